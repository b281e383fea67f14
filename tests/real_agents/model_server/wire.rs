//! The four wire formats: one model answer ([`Reply`]) as an Anthropic Messages
//! stream or message, an `OpenAI` Responses stream, a Chat Completions stream or
//! completion, and a Gemini response chunk. The shapes are the ones the CLIs accept
//! (see the parent module).

use serde_json::{Value, json};

use super::Reply;

fn sse_event(out: &mut String, event: Option<&str>, data: &Value) {
    if let Some(e) = event {
        out.push_str("event: ");
        out.push_str(e);
        out.push('\n');
    }
    out.push_str("data: ");
    out.push_str(&data.to_string());
    out.push_str("\n\n");
}

/// Anthropic Messages stream: `message_start` → `content_block_start` → one delta →
/// `content_block_stop` → `message_delta` (stop reason) → `message_stop`.
pub(super) fn anthropic_stream(reply: &Reply, model: &str, id: u64) -> String {
    let mut s = String::new();
    let ev = |s: &mut String, name: &str, data: Value| sse_event(s, Some(name), &data);
    ev(
        &mut s,
        "message_start",
        json!({"type": "message_start", "message": {
            "id": format!("msg_e2e{id}"), "type": "message", "role": "assistant",
            "model": model, "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 10, "output_tokens": 1}
        }}),
    );
    let (block, delta, stop_reason) = match reply {
        Reply::Text(t) => (
            json!({"type": "text", "text": ""}),
            json!({"type": "text_delta", "text": t}),
            "end_turn",
        ),
        Reply::ToolCall { name, args } => (
            json!({"type": "tool_use", "id": format!("toolu_e2e{id}"), "name": name, "input": {}}),
            json!({"type": "input_json_delta", "partial_json": args.to_string()}),
            "tool_use",
        ),
    };
    ev(
        &mut s,
        "content_block_start",
        json!({"type": "content_block_start", "index": 0, "content_block": block}),
    );
    ev(
        &mut s,
        "content_block_delta",
        json!({"type": "content_block_delta", "index": 0, "delta": delta}),
    );
    ev(
        &mut s,
        "content_block_stop",
        json!({"type": "content_block_stop", "index": 0}),
    );
    ev(
        &mut s,
        "message_delta",
        json!({"type": "message_delta",
               "delta": {"stop_reason": stop_reason, "stop_sequence": null},
               "usage": {"output_tokens": 5}}),
    );
    ev(&mut s, "message_stop", json!({"type": "message_stop"}));
    s
}

pub(super) fn anthropic_message(reply: &Reply, model: &str, id: u64) -> Value {
    let (content, stop) = match reply {
        Reply::Text(t) => (json!([{"type": "text", "text": t}]), "end_turn"),
        Reply::ToolCall { name, args } => (
            json!([{"type": "tool_use", "id": format!("toolu_e2e{id}"), "name": name, "input": args}]),
            "tool_use",
        ),
    };
    json!({
        "id": format!("msg_e2e{id}"), "type": "message", "role": "assistant", "model": model,
        "content": content, "stop_reason": stop, "stop_sequence": null,
        "usage": {"input_tokens": 10, "output_tokens": 5}
    })
}

/// `OpenAI` Responses stream: `response.created` → `output_item.added` → deltas →
/// `output_item.done` → `response.completed` (with token details in the usage).
pub(super) fn responses_stream(reply: &Reply, model: &str, id: u64) -> String {
    let mut s = String::new();
    let resp_id = format!("resp_e2e{id}");
    let ev = |s: &mut String, data: Value| {
        let name = data["type"].as_str().unwrap_or_default().to_owned();
        sse_event(s, Some(&name), &data);
    };
    ev(
        &mut s,
        json!({"type": "response.created", "response": {
            "id": resp_id, "object": "response", "model": model, "status": "in_progress", "output": []
        }}),
    );
    let item = match reply {
        Reply::Text(t) => {
            let item_id = format!("msg_e2e{id}");
            ev(
                &mut s,
                json!({"type": "response.output_item.added", "output_index": 0, "item": {
                    "type": "message", "id": item_id, "role": "assistant", "status": "in_progress", "content": []
                }}),
            );
            ev(
                &mut s,
                json!({"type": "response.output_text.delta", "item_id": item_id,
                       "output_index": 0, "content_index": 0, "delta": t}),
            );
            json!({"type": "message", "id": item_id, "role": "assistant", "status": "completed",
                   "content": [{"type": "output_text", "text": t, "annotations": []}]})
        }
        Reply::ToolCall { name, args } => {
            let item_id = format!("fc_e2e{id}");
            let call_id = format!("call_e2e{id}");
            let args = args.to_string();
            ev(
                &mut s,
                json!({"type": "response.output_item.added", "output_index": 0, "item": {
                    "type": "function_call", "id": item_id, "call_id": call_id, "name": name,
                    "arguments": "", "status": "in_progress"
                }}),
            );
            ev(
                &mut s,
                json!({"type": "response.function_call_arguments.delta", "item_id": item_id,
                       "output_index": 0, "delta": args}),
            );
            ev(
                &mut s,
                json!({"type": "response.function_call_arguments.done", "item_id": item_id,
                       "output_index": 0, "arguments": args}),
            );
            json!({"type": "function_call", "id": item_id, "call_id": call_id, "name": name,
                   "arguments": args, "status": "completed"})
        }
    };
    ev(
        &mut s,
        json!({"type": "response.output_item.done", "output_index": 0, "item": item}),
    );
    ev(
        &mut s,
        json!({"type": "response.completed", "response": {
            "id": resp_id, "object": "response", "model": model, "status": "completed",
            "output": [item],
            "usage": {
                "input_tokens": 10, "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": 15
            }
        }}),
    );
    s
}

/// Chat Completions stream: role chunk → tool call (or content) chunk → arguments
/// chunk → finish reason with usage → `[DONE]`.
pub(super) fn chat_stream(reply: &Reply, model: &str, id: u64) -> String {
    let mut s = String::new();
    let chunk = |delta: Value, finish: Value, usage: Option<Value>| {
        let mut c = json!({
            "id": format!("chatcmpl-e2e{id}"), "object": "chat.completion.chunk",
            "created": 1_700_000_000, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]
        });
        if let Some(u) = usage {
            c["usage"] = u;
        }
        c
    };
    let usage = json!({"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15});
    sse_event(
        &mut s,
        None,
        &chunk(
            json!({"role": "assistant", "content": ""}),
            Value::Null,
            None,
        ),
    );
    let finish = match reply {
        Reply::Text(t) => {
            sse_event(
                &mut s,
                None,
                &chunk(json!({"content": t}), Value::Null, None),
            );
            "stop"
        }
        Reply::ToolCall { name, args } => {
            sse_event(
                &mut s,
                None,
                &chunk(
                    json!({"tool_calls": [{"index": 0, "id": format!("call_e2e{id}"), "type": "function",
                                           "function": {"name": name, "arguments": ""}}]}),
                    Value::Null,
                    None,
                ),
            );
            sse_event(
                &mut s,
                None,
                &chunk(
                    json!({"tool_calls": [{"index": 0, "function": {"arguments": args.to_string()}}]}),
                    Value::Null,
                    None,
                ),
            );
            "tool_calls"
        }
    };
    sse_event(&mut s, None, &chunk(json!({}), json!(finish), Some(usage)));
    s.push_str("data: [DONE]\n\n");
    s
}

pub(super) fn chat_completion(reply: &Reply, model: &str, id: u64) -> Value {
    let (message, finish) = match reply {
        Reply::Text(t) => (json!({"role": "assistant", "content": t}), "stop"),
        Reply::ToolCall { name, args } => (
            json!({"role": "assistant", "content": null, "tool_calls": [{
                "id": format!("call_e2e{id}"), "type": "function",
                "function": {"name": name, "arguments": args.to_string()}
            }]}),
            "tool_calls",
        ),
    };
    json!({
        "id": format!("chatcmpl-e2e{id}"), "object": "chat.completion", "created": 1_700_000_000,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    })
}

/// One Gemini response chunk: a text or `functionCall` part, finish reason STOP.
pub(super) fn gemini(reply: &Reply, model: &str) -> Value {
    let part = match reply {
        Reply::Text(t) => json!({"text": t}),
        Reply::ToolCall { name, args } => json!({"functionCall": {"name": name, "args": args}}),
    };
    json!({
        "candidates": [{"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15},
        "modelVersion": model
    })
}
