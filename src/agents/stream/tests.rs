//! Shared behaviour: untrusted input, pass-through, unknown events, caps. Each CLI's
//! file tests its real stream (the fixtures).

use super::*;

/// Feeds `text` line by line, then ends the stream; returns the parser and transcript.
pub fn run(interface: Interface, text: &str) -> (Stream, String) {
    let mut stream = Stream::new(interface).expect("a structured interface");
    let mut transcript = String::new();
    for line in text.lines() {
        let out = stream.line(line);
        assert!(out.is_empty() || out.ends_with('\n'), "{out:?}");
        transcript.push_str(&out);
    }
    transcript.push_str(&stream.finish());
    (stream, transcript)
}

/// A person never sees raw JSON for a stream whose events are all known.
pub fn assert_no_json(transcript: &str) {
    assert!(!transcript.contains("{\""), "raw JSON in:\n{transcript}");
    assert!(
        !transcript.contains("agent-offload: unrecognised"),
        "{transcript}"
    );
}

/// Every interface with structured output.
fn structured() -> impl Iterator<Item = Interface> {
    Interface::ALL
        .into_iter()
        .filter(|i| *i != Interface::Generic)
}

#[test]
fn generic_has_no_parser() {
    assert!(Stream::new(Interface::Generic).is_none());
    for interface in structured() {
        assert!(Stream::new(interface).is_some(), "{interface:?}");
    }
}

#[test]
fn lines_that_are_not_json_pass_through_verbatim() {
    for interface in structured() {
        let mut stream = Stream::new(interface).unwrap();
        assert_eq!(
            stream.line("Warning: no config found"),
            "Warning: no config found\n"
        );
        assert_eq!(stream.line(""), "\n");
        assert_eq!(stream.line("{\"type\": \"trunc"), "{\"type\": \"trunc\n");
        assert_eq!(stream.line("[1, 2]"), "[1, 2]\n");
        assert_eq!(stream.session_id(), None);
    }
}

#[test]
fn an_unknown_event_is_announced_once_per_type_and_shown_raw() {
    let mut stream = Stream::new(Interface::Codex).unwrap();
    let first = r#"{"type":"thread.paused","why":1}"#;
    assert_eq!(
        stream.line(first),
        format!(
            "agent-offload: unrecognised codex event \"thread.paused\"; showing such events raw\n{first}\n"
        )
    );
    let again = r#"{"type":"thread.paused","why":2}"#;
    assert_eq!(stream.line(again), format!("{again}\n"));
    // Known events keep rendering, and an unknown event is no error.
    assert_eq!(
        stream.line(
            r#"{"type":"item.completed","item":{"id":"1","type":"agent_message","text":"hi"}}"#
        ),
        "hi\n"
    );
    assert_eq!(stream.error(), None);
    let other = r#"{"no_type":true}"#;
    assert!(
        stream
            .line(other)
            .starts_with("agent-offload: unrecognised codex event \"\"")
    );
}

#[test]
fn the_unknown_event_notice_cannot_be_abused() {
    let mut stream = Stream::new(Interface::Pi).unwrap();
    let kind = format!("a\u{1b}[31m{}", "x".repeat(500));
    let line = serde_json::json!({ "type": kind }).to_string();
    let out = stream.line(&line);
    let notice = out.lines().next().unwrap();
    assert!(!notice.contains('\u{1b}'), "{notice}");
    assert!(notice.len() < 200, "{notice}");
    // Many distinct types: the notices stop, the raw lines do not.
    for i in 0..100 {
        let out = stream.line(&format!(r#"{{"type":"t{i}"}}"#));
        assert!(out.ends_with(&format!("{{\"type\":\"t{i}\"}}\n")));
    }
    assert_eq!(stream.state.unknown_types.len(), UNKNOWN_TYPES_MAX);
}

#[test]
fn session_ids_are_checked() {
    assert!(valid_session_id("0199a2b3-c4d5-7e8f-9a0b-1c2d3e4f5a6b"));
    assert!(valid_session_id("ses_3f2a.b:c"));
    assert!(valid_session_id(&"a".repeat(128)));
    for bad in [
        "",
        "a b",
        "../etc",
        "id;rm",
        "ünï",
        "a\nb",
        "a".repeat(129).as_str(),
    ] {
        assert!(!valid_session_id(bad), "{bad:?}");
    }
    let mut stream = Stream::new(Interface::Pi).unwrap();
    stream.line(r#"{"type":"session","id":"../../x","cwd":"/"}"#);
    assert_eq!(stream.session_id(), None);
    stream.line(r#"{"type":"session","id":"good-1","cwd":"/"}"#);
    assert_eq!(stream.session_id(), Some("good-1"));
    // The first valid one is kept.
    stream.line(r#"{"type":"session","id":"good-2","cwd":"/"}"#);
    assert_eq!(stream.session_id(), Some("good-1"));
}

#[test]
fn what_is_kept_is_capped() {
    let huge = "é".repeat(100_000);
    let mut stream = Stream::new(Interface::Codex).unwrap();
    let message = serde_json::json!({"type": "item.completed",
        "item": {"id": "1", "type": "agent_message", "text": huge}});
    let out = stream.line(&message.to_string());
    assert!(out.len() <= FINAL_MESSAGE_MAX + 100, "{}", out.len());
    assert!(
        out.ends_with(" more bytes)\n"),
        "{}",
        &out[out.len() - 40..]
    );
    let kept = stream.final_message().unwrap();
    assert!(kept.len() <= FINAL_MESSAGE_MAX && kept.len() > FINAL_MESSAGE_MAX - 4);
    let error = serde_json::json!({"type": "error", "message": huge});
    let out = stream.line(&error.to_string());
    assert!(out.len() < 2000, "{}", out.len());
    assert!(stream.error().unwrap().len() <= ERROR_MAX);
    // A huge line that is not JSON is cut too.
    let out = stream.line(&"w".repeat(1_000_000));
    assert!(out.len() < LINE_MAX + 100);
}

#[test]
fn tool_output_shows_ten_lines_and_a_count() {
    let mut out = Out::default();
    let text: String = (1..=25)
        .map(|i| format!("line {i}"))
        .collect::<Vec<_>>()
        .join("\n");
    out.result(&text);
    let shown: Vec<&str> = out.0.lines().collect();
    assert_eq!(shown.len(), 11);
    assert_eq!(shown[0], "    line 1");
    assert_eq!(shown[9], "    line 10");
    assert_eq!(shown[10], "    (… 15 more lines)");
    let mut out = Out::default();
    out.result(&"z".repeat(5000));
    assert!(out.0.chars().count() < RESULT_LINE_CHARS + 10);
}

#[test]
fn control_characters_never_reach_the_transcript() {
    let mut stream = Stream::new(Interface::Codex).unwrap();
    let out = stream.line(
        r#"{"type":"item.completed","item":{"id":"1","type":"agent_message","text":"red \u001b[31mtext\r\nnext\u0007"}}"#,
    );
    assert_eq!(out, "red \u{FFFD}[31mtext\nnext\u{FFFD}\n");
    // The final message is the agent's text as it sent it.
    assert_eq!(
        stream.final_message(),
        Some("red \u{1b}[31mtext\r\nnext\u{7}")
    );
}

#[test]
fn tool_arguments_are_a_few_words_never_json() {
    let args = serde_json::json!({"file_path": "/src/main.rs", "limit": 10});
    assert_eq!(short_args(&args), "/src/main.rs");
    let args = serde_json::json!({"a": 1, "b": [1, 2], "c": {"d": "e"}, "f": "g\nh"});
    assert_eq!(short_args(&args), "a=1 b=… c=… f=g h");
    let args = Value::String(r#"{"path":"x.rs"}"#.into());
    assert_eq!(short_args(&args), "x.rs");
    let long = serde_json::json!({ "command": "x".repeat(1000) });
    assert_eq!(short_args(&long).chars().count(), ARGS_CHARS + 1);
}

/// Lines a hostile or broken CLI could print: none may panic, whatever the parser.
fn hostile_lines() -> Vec<String> {
    let deep_ok = format!("{}{}", "[".repeat(100), "]".repeat(100));
    let deep = format!(
        "{{\"type\":\"result\",\"x\":{}{}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let mut lines = vec![
        "{".to_owned(),
        "{}".to_owned(),
        "{\"type\":null}".to_owned(),
        "{\"type\":[1]}".to_owned(),
        "\u{0}\u{1b}".to_owned(),
        format!("{{\"type\":\"message\",\"deep\":{deep_ok}}}"),
        deep,
        "{\"type\":\"result\",\"usage\":{\"input_tokens\":18446744073709551615,\"output_tokens\":-1},\"total_cost_usd\":1e400}".to_owned(),
        "{\"type\":\"result\",\"usage\":{\"input_tokens\":18446744073709551615}}".to_owned(),
        "{\"type\":\"step_finish\",\"part\":{\"tokens\":{\"input\":1.5,\"cache\":7},\"cost\":\"1\"}}".to_owned(),
        "{\"type\":\"message_end\",\"message\":{\"role\":\"assistant\",\"content\":\"x\",\"usage\":[]}}".to_owned(),
    ];
    lines.extend(wrong_types());
    // A valid JSON prefix cut at every byte.
    let sample = r#"{"type":"assistant","message":{"content":[{"type":"text","text":"héllo"}]}}"#;
    for end in 0..=sample.len() {
        if sample.is_char_boundary(end) {
            lines.push(sample[..end].to_owned());
        }
    }
    lines
}

/// Every type any parser knows, with every field of the wrong type.
fn wrong_types() -> Vec<String> {
    let mut lines = Vec::new();
    let types = [
        "system",
        "assistant",
        "user",
        "result",
        "tool_call",
        "thinking",
        "stream_event",
        "thread.started",
        "turn.started",
        "item.started",
        "item.updated",
        "item.completed",
        "turn.completed",
        "turn.failed",
        "error",
        "init",
        "message",
        "tool_use",
        "tool_result",
        "step_start",
        "text",
        "reasoning",
        "step_finish",
        "session",
        "agent_start",
        "agent_end",
        "turn_start",
        "turn_end",
        "message_start",
        "message_update",
        "message_end",
        "tool_execution_start",
        "tool_execution_update",
        "tool_execution_end",
        "auto_retry_start",
    ];
    let wrong: [Value; 7] = [
        Value::Null,
        Value::Bool(true),
        serde_json::json!(-3),
        serde_json::json!("s"),
        serde_json::json!([{"type": "text"}, 1, null, {"type": "tool_use", "input": 5}]),
        serde_json::json!({"type": 1, "text": 2, "content": {"x": 1}, "usage": "u", "id": 9}),
        serde_json::json!({"type": "command_execution", "command": null, "exit_code": "0",
            "items": 1, "changes": [1], "state": [], "tokens": {"cache": {"read": "x"}}}),
    ];
    for kind in types {
        for value in &wrong {
            let mut event = serde_json::json!({ "type": kind });
            for field in [
                "message",
                "item",
                "part",
                "usage",
                "content",
                "error",
                "stats",
                "result",
                "subtype",
                "session_id",
                "sessionID",
                "id",
                "thread_id",
                "tool_call",
                "args",
                "parameters",
                "output",
                "delta",
                "role",
                "is_error",
                "isError",
                "model",
            ] {
                event[field] = value.clone();
            }
            lines.push(event.to_string());
            // And each field alone.
            lines.push(serde_json::json!({ "type": kind, "message": value }).to_string());
            lines.push(serde_json::json!({ "type": kind, "item": value }).to_string());
            lines.push(serde_json::json!({ "type": kind, "part": value }).to_string());
        }
    }
    lines
}

#[test]
fn no_input_panics() {
    let lines = hostile_lines();
    for interface in structured() {
        let mut stream = Stream::new(interface).unwrap();
        for line in &lines {
            let out = stream.line(line);
            assert!(out.is_empty() || out.ends_with('\n'));
        }
        let _ = stream.finish();
        let _ = (
            stream.session_id(),
            stream.final_message(),
            stream.error(),
            stream.usage(),
        );
        let usage = stream.usage();
        assert!(
            usage.cost_usd.is_none_or(f64::is_finite),
            "{interface:?} {usage:?}"
        );
    }
}

#[test]
fn the_summary_line_says_what_is_known() {
    let mut state = State::new("x");
    let mut out = Out::default();
    state.summary(&mut out);
    assert_eq!(out.0, "", "nothing known, nothing shown");
    state.add_turn();
    state.add_usage(&Usage {
        input_tokens: Some(1200),
        cached_input_tokens: Some(1000),
        output_tokens: Some(50),
        reasoning_tokens: Some(20),
        cost_usd: Some(0.012_34),
    });
    state.summary(&mut out);
    assert_eq!(
        out.0,
        "turns 1, tokens 1200 in (1000 cached), 50 out (20 reasoning), cost $0.01234\n"
    );
    // Once per change.
    state.summary(&mut out);
    assert_eq!(out.0.lines().count(), 1);
}

#[test]
fn errors_wrapping_json_are_made_readable() {
    assert_eq!(
        render::readable_error(
            r#"[API Error: {"error":{"code":401,"message":"bad key","status":"UNAUTHENTICATED"}}]"#
        ),
        "API Error: 401 bad key"
    );
    assert_eq!(render::readable_error(r#"{"message":"plain"}"#), "plain");
    for kept in ["no json here", "half {\"a\":", "{\"no_message\":1}", "} {"] {
        assert_eq!(render::readable_error(kept), kept);
    }
}
