//! A scripted model server on 127.0.0.1 that speaks just enough of four wire protocols
//! to drive the real agent CLIs:
//!
//! - Anthropic Messages (`POST /v1/messages`, SSE): claude;
//! - `OpenAI` Responses (`POST /v1/responses`, SSE): codex;
//! - `OpenAI` Chat Completions (`POST /v1/chat/completions`, SSE): opencode, pi, qwen;
//! - Gemini (`POST /v1beta/models/<m>:streamGenerateContent?alt=sse`): gemini.
//!
//! What it answers, per request, looking at the last turn only (so that a resumed
//! conversation, which carries the earlier turns, is answered like a fresh one):
//! 1. the last message is a tool result → a final text ([`FINAL_TEXT`]);
//! 2. else tools are offered and the last user message has a line `SCRIPT: <command>`
//!    (the last such line: a hand-off prompt quotes the earlier task's) → a call of the
//!    CLI's shell tool with that command, its arguments filled from the tool's JSON
//!    schema. `{DONE_TMP}` and `{DONE}` in the command are replaced by the paths named
//!    last for `done.md.tmp` and `done.md` (in that user message, else anywhere in the
//!    request): the ones agent-offload's augmented prompt asks the agent to publish to;
//!    `{QUESTION_TMP}` and `{QUESTION}` likewise by those of `question.md.tmp` and
//!    `question.md`, where it asks the agent to publish a question;
//! 3. else a plain text ([`PLAIN_TEXT`]).
//!
//! [`ModelServer::fail_with`] makes every model request fail with an HTTP status
//! instead. Every request is logged for assertions. std only: a `TcpListener`, one
//! thread per connection, one request per connection (`Connection: close`).

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{Map, Value, json};

mod wire;
use wire::{
    anthropic_message, anthropic_stream, chat_completion, chat_stream, gemini, responses_stream,
};

/// The answer to a request that carries a tool result.
pub const FINAL_TEXT: &str = "The script ran; the summary is published.";
/// The answer to a request with nothing to do.
pub const PLAIN_TEXT: &str = "Nothing to run.";
/// The message of the scripted HTTP errors, so tests can find it in the agent's output.
pub const ERROR_MESSAGE: &str = "e2e model server: credentials rejected";

/// The shell tools of the CLIs, by name: claude `Bash`, codex `exec_command` (older
/// versions `shell`/`shell_command`), opencode and pi `bash`, gemini and qwen
/// `run_shell_command`.
const SHELL_TOOLS: &[&str] = &[
    "Bash",
    "exec_command",
    "shell_command",
    "shell",
    "bash",
    "run_shell_command",
];

/// One request as received.
#[derive(Clone, Debug)]
pub struct Logged {
    pub method: String,
    /// Path and query.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// What the server answered, in a few words (for failure messages).
    pub answer: String,
}

impl Logged {
    /// Whether this was a request for a model answer (not a side request such as a
    /// model list or a token count).
    pub fn is_model_call(&self) -> bool {
        Wire::of(&self.target).is_some()
    }

    /// Whether this was a turn of the agent's conversation: a model call offering the
    /// shell tool (not a side request such as gemini's routing or opencode's title).
    pub fn is_turn(&self) -> bool {
        self.is_model_call()
            && serde_json::from_str::<Value>(&self.body)
                .is_ok_and(|b| shell_tool(&b["tools"]).is_some())
    }
}

struct Shared {
    log: Mutex<Vec<Logged>>,
    /// 0: answer normally; else the HTTP status every model request gets.
    fail_status: AtomicU16,
    stop: AtomicBool,
    ids: AtomicU64,
}

pub struct ModelServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl ModelServer {
    pub fn start() -> ModelServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the model server");
        let addr = listener.local_addr().expect("local_addr");
        let shared = Arc::new(Shared {
            log: Mutex::new(Vec::new()),
            fail_status: AtomicU16::new(0),
            stop: AtomicBool::new(false),
            // Ids unique across servers too: a resumed conversation holds the earlier
            // run's tool call ids, and claude pairs a result with the first of equal ids.
            ids: AtomicU64::new(first_id()),
        });
        let s = Arc::clone(&shared);
        let accept = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let s = Arc::clone(&s);
                std::thread::spawn(move || {
                    let _ = serve(conn, &s);
                });
            }
        });
        ModelServer {
            addr,
            shared,
            accept: Some(accept),
        }
    }

    /// `http://127.0.0.1:<port>` (no path).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// From now on, every model request is answered with `status` and an error body in
    /// the request's wire format.
    pub fn fail_with(&self, status: u16) {
        self.shared.fail_status.store(status, Ordering::SeqCst);
    }

    pub fn requests(&self) -> Vec<Logged> {
        self.shared.log.lock().unwrap().clone()
    }

    pub fn model_calls(&self) -> Vec<Logged> {
        self.requests()
            .into_iter()
            .filter(Logged::is_model_call)
            .collect()
    }

    /// The log in a few lines, for failure messages.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        for r in self.requests() {
            let _ = writeln!(
                s,
                "  {} {} ({} bytes) -> {}",
                r.method,
                r.target,
                r.body.len(),
                r.answer
            );
        }
        if s.is_empty() {
            s.push_str("  (no requests)\n");
        }
        s
    }
}

impl Drop for ModelServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

/// Where a server's ids start: microseconds since the epoch, so that no two servers
/// (and no two runs of a resumed session) hand out the same tool call id.
fn first_id() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| u64::try_from(d.as_micros()).unwrap_or(1))
}

/// Reads one request, logs it, answers it, closes the connection.
fn serve(conn: TcpStream, shared: &Shared) -> std::io::Result<()> {
    if shared.stop.load(Ordering::SeqCst) {
        return Ok(());
    }
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(());
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 {
            break;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let body = if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        read_chunked(&mut reader)?
    } else {
        let len: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut buf = vec![0; len];
        reader.read_exact(&mut buf)?;
        buf
    };
    let mut logged = Logged {
        method,
        target,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        answer: String::new(),
    };
    let response = respond(&logged, shared);
    logged.answer.clone_from(&response.what);
    shared.log.lock().unwrap().push(logged);

    let mut out = conn;
    let head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n",
        response.status,
        reason(response.status),
        response.content_type,
        response.body.len()
    );
    out.write_all(head.as_bytes())?;
    out.write_all(response.body.as_bytes())?;
    out.flush()?;
    let _ = out.shutdown(std::net::Shutdown::Both);
    Ok(())
}

fn read_chunked(reader: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size)?;
        let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        if size == 0 {
            let mut trailer = String::new();
            while reader.read_line(&mut trailer)? > 2 {
                trailer.clear();
            }
            return Ok(body);
        }
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk)?;
        chunk.truncate(size);
        body.extend_from_slice(&chunk);
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        _ => "Status",
    }
}

struct Response {
    status: u16,
    content_type: &'static str,
    body: String,
    what: String,
}

impl Response {
    fn json(status: u16, body: &Value, what: impl Into<String>) -> Response {
        Response {
            status,
            content_type: "application/json",
            body: body.to_string(),
            what: what.into(),
        }
    }

    fn sse(body: String, what: impl Into<String>) -> Response {
        Response {
            status: 200,
            content_type: "text/event-stream",
            body,
            what: what.into(),
        }
    }
}

/// The wire protocol of a model request, from its path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wire {
    Anthropic,
    Responses,
    Chat,
    Gemini { stream: bool },
}

impl Wire {
    fn of(target: &str) -> Option<Wire> {
        let path = target.split('?').next().unwrap_or_default();
        if path.ends_with("/messages") {
            Some(Wire::Anthropic)
        } else if path.ends_with("/responses") {
            Some(Wire::Responses)
        } else if path.ends_with("/chat/completions") {
            Some(Wire::Chat)
        } else if path.ends_with(":streamGenerateContent") {
            Some(Wire::Gemini { stream: true })
        } else if path.ends_with(":generateContent") {
            Some(Wire::Gemini { stream: false })
        } else {
            None
        }
    }
}

/// What the model "says".
#[derive(Debug)]
enum Reply {
    Text(String),
    ToolCall { name: String, args: Value },
}

fn respond(req: &Logged, shared: &Shared) -> Response {
    let path = req.target.split('?').next().unwrap_or_default();
    let Some(wire) = Wire::of(&req.target) else {
        // Side requests some CLIs make; none of them is needed for the work.
        return if path.ends_with("/count_tokens") {
            Response::json(200, &json!({"input_tokens": 1}), "token count")
        } else if path.ends_with(":countTokens") {
            Response::json(200, &json!({"totalTokens": 1}), "token count")
        } else {
            Response::json(
                404,
                &json!({"error": {"message": format!("e2e model server: no route {path}")}}),
                "404",
            )
        };
    };
    let status = shared.fail_status.load(Ordering::SeqCst);
    if status != 0 {
        return error(wire, status);
    }
    let body: Value = serde_json::from_str(&req.body).unwrap_or(Value::Null);
    let reply = decide(&body);
    let what = match &reply {
        Reply::Text(t) => format!("text {t:?}"),
        Reply::ToolCall { name, args } => format!("tool call {name} {args}"),
    };
    let id = shared.ids.fetch_add(1, Ordering::SeqCst);
    let model = body["model"].as_str().unwrap_or("e2e-model").to_owned();
    let streaming = body["stream"].as_bool().unwrap_or(false);
    match wire {
        Wire::Anthropic if streaming => Response::sse(anthropic_stream(&reply, &model, id), what),
        Wire::Anthropic => Response::json(200, &anthropic_message(&reply, &model, id), what),
        Wire::Responses => Response::sse(responses_stream(&reply, &model, id), what),
        Wire::Chat if streaming => Response::sse(chat_stream(&reply, &model, id), what),
        Wire::Chat => Response::json(200, &chat_completion(&reply, &model, id), what),
        Wire::Gemini { stream: true } => {
            Response::sse(format!("data: {}\r\n\r\n", gemini(&reply, &model)), what)
        }
        Wire::Gemini { stream: false } => Response::json(200, &gemini(&reply, &model), what),
    }
}

fn error(wire: Wire, status: u16) -> Response {
    let body = match wire {
        Wire::Anthropic => json!({
            "type": "error",
            "error": {"type": "authentication_error", "message": ERROR_MESSAGE}
        }),
        Wire::Responses | Wire::Chat => json!({
            "error": {
                "message": ERROR_MESSAGE,
                "type": "invalid_request_error",
                "param": null,
                "code": "invalid_api_key"
            }
        }),
        Wire::Gemini { .. } => json!({
            "error": {"code": status, "message": ERROR_MESSAGE, "status": "UNAUTHENTICATED"}
        }),
    };
    Response::json(status, &body, format!("error {status}"))
}

/// The decision described in the module documentation.
fn decide(body: &Value) -> Reply {
    // A request for structured output (gemini's model router classifies every prompt
    // this way and retries for minutes on anything else) gets a value of its schema.
    let wanted = [
        &body["generationConfig"]["responseJsonSchema"],
        &body["generationConfig"]["responseSchema"],
        &body["response_format"]["json_schema"]["schema"],
    ];
    if let Some(schema) = wanted.into_iter().find(|s| s.is_object()) {
        return Reply::Text(example_of(schema).to_string());
    }
    let turns = conversation(body);
    if turns.last().is_some_and(has_tool_result) {
        return Reply::Text(FINAL_TEXT.to_owned());
    }
    let Some((name, schema)) = shell_tool(&body["tools"]) else {
        return Reply::Text(PLAIN_TEXT.to_owned());
    };
    let mut said = Vec::new();
    if let Some(user) = turns.iter().rev().find(|m| m["role"] == "user") {
        collect_strings(user, &mut said);
    }
    let Some(script) = said.iter().rev().find_map(|s| {
        s.lines()
            .rev()
            .find_map(|l| l.trim_start().strip_prefix("SCRIPT: ").map(str::to_owned))
    }) else {
        return Reply::Text(PLAIN_TEXT.to_owned());
    };
    let mut everywhere = Vec::new();
    collect_strings(body, &mut everywhere);
    let command = fill_paths(&script, &said, &everywhere);
    Reply::ToolCall {
        args: arguments(&schema, &command),
        name,
    }
}

/// A value that satisfies `schema`: every property filled, the first of an enum, the
/// minimum of a number.
fn example_of(schema: &Value) -> Value {
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    let ty = match declared_type(schema) {
        Some(t) => t,
        None if schema["properties"].is_object() => "object".to_owned(),
        None => "string".to_owned(),
    };
    match ty.as_str() {
        "object" => Value::Object(
            schema["properties"]
                .as_object()
                .map(|props| {
                    props
                        .iter()
                        .map(|(k, v)| (k.clone(), example_of(v)))
                        .collect()
                })
                .unwrap_or_default(),
        ),
        "array" => json!([]),
        "boolean" => json!(false),
        "integer" => json!(schema["minimum"].as_i64().unwrap_or(1)),
        "number" => json!(schema["minimum"].as_f64().unwrap_or(1.0)),
        _ => json!("e2e"),
    }
}

/// The messages of the conversation, oldest first: `messages` (Anthropic, Chat),
/// `input` (Responses), `contents` (Gemini).
fn conversation(body: &Value) -> &[Value] {
    ["messages", "input", "contents"]
        .iter()
        .find_map(|k| body[*k].as_array())
        .map_or(&[], Vec::as_slice)
}

/// Whether a message (or anything in it) is a tool result, in any of the formats.
fn has_tool_result(v: &Value) -> bool {
    match v {
        Value::Object(m) => {
            let ty = m.get("type").and_then(Value::as_str);
            matches!(
                ty,
                Some("tool_result" | "function_call_output" | "custom_tool_call_output")
            ) || m.get("role").and_then(Value::as_str) == Some("tool")
                || m.contains_key("functionResponse")
                || m.values().any(has_tool_result)
        }
        Value::Array(a) => a.iter().any(has_tool_result),
        _ => false,
    }
}

/// The first shell tool offered, with its parameter schema. Tools look like
/// `{name, input_schema}` (Anthropic), `{name, parameters}` (Responses),
/// `{function: {name, parameters}}` (Chat), `{functionDeclarations: [{name,
/// parameters | parametersJsonSchema}]}` (Gemini).
fn shell_tool(tools: &Value) -> Option<(String, Value)> {
    let mut found = Vec::new();
    collect_tools(tools, &mut found);
    SHELL_TOOLS
        .iter()
        .find_map(|want| found.iter().find(|(name, _)| name == want).cloned())
}

fn collect_tools(v: &Value, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) => {
            if let Some(name) = m.get("name").and_then(Value::as_str) {
                let schema = ["input_schema", "parameters", "parametersJsonSchema"]
                    .iter()
                    .find_map(|k| m.get(*k));
                if let Some(schema) = schema {
                    out.push((name.to_owned(), schema.clone()));
                    return;
                }
            }
            m.values().for_each(|v| collect_tools(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| collect_tools(v, out)),
        _ => {}
    }
}

fn collect_strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(a) => a.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(m) => m.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

/// Replaces `{DONE_TMP}` and `{DONE}` by the (shell-quoted) paths of the last
/// `.../done.md.tmp` named in `said` (the last user message: a resumed run's, not its
/// first run's), else in `everywhere`; `{QUESTION_TMP}` and `{QUESTION}` likewise with
/// `.../question.md.tmp`.
fn fill_paths(script: &str, said: &[&str], everywhere: &[&str]) -> String {
    let mut command = script.to_owned();
    for (file, tmp_key, key) in [
        ("/done.md.tmp", "{DONE_TMP}", "{DONE}"),
        ("/question.md.tmp", "{QUESTION_TMP}", "{QUESTION}"),
    ] {
        if let Some(tmp) = last_path(said, file).or_else(|| last_path(everywhere, file)) {
            let path = tmp.trim_end_matches(".tmp");
            command = command
                .replace(tmp_key, &format!("'{tmp}'"))
                .replace(key, &format!("'{path}'"));
        }
    }
    command
}

/// The last path ending with `file` (`/done.md.tmp`) in `strings`: from the word's
/// start (after whitespace or a quote) to the file's name.
fn last_path(strings: &[&str], file: &str) -> Option<String> {
    strings.iter().rev().find_map(|s| {
        let end = s.rfind(file)? + file.len();
        let start = s[..end]
            .rfind(|c: char| c.is_whitespace() || c == '\'' || c == '"' || c == '`')
            .map_or(0, |i| i + 1);
        Some(s[start..end].to_owned())
    })
}

/// Arguments for a shell tool: the command in its `command`/`cmd` property (a string,
/// or `["bash", "-lc", command]` where the schema wants an array), every other
/// required property filled with a value of its type.
fn arguments(schema: &Value, command: &str) -> Value {
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut args = Map::new();
    if let Some(props) = schema["properties"].as_object() {
        for (name, prop) in props {
            let is_command = matches!(name.as_str(), "command" | "cmd");
            if !is_command && !required.contains(&name.as_str()) {
                continue;
            }
            let ty = declared_type(prop).unwrap_or_else(|| "string".to_owned());
            let value = if is_command {
                if ty == "array" {
                    json!(["bash", "-lc", command])
                } else {
                    json!(command)
                }
            } else if let Some(first) = prop["enum"].as_array().and_then(|e| e.first()) {
                first.clone()
            } else {
                match ty.as_str() {
                    "boolean" => json!(false),
                    "integer" | "number" => json!(60),
                    "array" => json!([]),
                    "object" => json!({}),
                    _ => json!("Publish the summary"),
                }
            };
            args.insert(name.clone(), value);
        }
    }
    if args.is_empty() {
        args.insert("command".into(), json!(command));
    }
    Value::Object(args)
}

/// A JSON schema's declared type, lower-cased: the first non-null one of a list.
fn declared_type(schema: &Value) -> Option<String> {
    match &schema["type"] {
        Value::String(t) => Some(t.to_ascii_lowercase()),
        Value::Array(ts) => Some(
            ts.iter()
                .filter_map(Value::as_str)
                .find(|t| *t != "null")
                .unwrap_or("string")
                .to_ascii_lowercase(),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_becomes_a_shell_call_with_the_prompt_paths() {
        let body = json!({
            "tools": [{"name": "Bash", "input_schema": {
                "type": "object",
                "properties": {"command": {"type": "string"}, "timeout": {"type": "number"}},
                "required": ["command"]
            }}],
            "messages": [{"role": "user", "content": [{"type": "text",
                "text": "SCRIPT: echo hi >{DONE_TMP} && mv {DONE_TMP} {DONE}\n---\nWrite it to:\n\n    /r/x/done.md.tmp\n"}]}]
        });
        match decide(&body) {
            Reply::ToolCall { name, args } => {
                assert_eq!(name, "Bash");
                assert_eq!(
                    args,
                    json!({"command": "echo hi >'/r/x/done.md.tmp' && mv '/r/x/done.md.tmp' '/r/x/done.md'"})
                );
            }
            other @ Reply::Text(_) => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_tool_result_gets_the_final_text() {
        let body = json!({"messages": [{"role": "tool", "content": "ok"}], "tools": []});
        assert!(matches!(decide(&body), Reply::Text(t) if t == FINAL_TEXT));
    }

    /// A resumed conversation: the first turn's script and tool result are history; the
    /// new user message decides, with the paths it names.
    #[test]
    fn only_the_last_turn_decides() {
        let tools = json!([{"type": "function", "function": {"name": "bash", "parameters": {
            "type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]
        }}}]);
        let mut messages = vec![
            json!({"role": "user", "content": "SCRIPT: one >{DONE_TMP}\nWrite /r/1/done.md.tmp"}),
            json!({"role": "assistant", "tool_calls": []}),
            json!({"role": "tool", "content": "ok"}),
            json!({"role": "assistant", "content": FINAL_TEXT}),
            json!({"role": "user", "content": "SCRIPT: two >{DONE_TMP}\nWrite /r/2/done.md.tmp"}),
        ];
        let body = json!({"messages": messages, "tools": tools});
        match decide(&body) {
            Reply::ToolCall { args, .. } => {
                assert_eq!(args, json!({"command": "two >'/r/2/done.md.tmp'"}));
            }
            other @ Reply::Text(_) => panic!("{other:?}"),
        }
        messages.push(json!({"role": "user", "content": "thanks"}));
        let body = json!({"messages": messages, "tools": tools});
        assert!(matches!(decide(&body), Reply::Text(t) if t == PLAIN_TEXT));
    }

    /// A hand-off prompt quotes the earlier task (its SCRIPT line) before the new one:
    /// the last line decides; a question is published to the question paths.
    #[test]
    fn the_last_script_line_decides_and_question_paths_are_filled() {
        let tools = json!([{"name": "Bash", "input_schema": {
            "type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]
        }}]);
        let text = "SCRIPT: old >{DONE_TMP}\n## Your task now\n\
                    SCRIPT: ask >{QUESTION_TMP} && mv {QUESTION_TMP} {QUESTION}\n---\n\
                    Write to /r/2/done.md.tmp, or ask in /r/2/question.md.tmp\n";
        let body = json!({"tools": tools, "messages": [{"role": "user", "content": text}]});
        match decide(&body) {
            Reply::ToolCall { args, .. } => assert_eq!(
                args,
                json!({"command": "ask >'/r/2/question.md.tmp' && mv '/r/2/question.md.tmp' '/r/2/question.md'"})
            ),
            other @ Reply::Text(_) => panic!("{other:?}"),
        }
    }

    #[test]
    fn structured_output_gets_a_value_of_its_schema() {
        let body = json!({"generationConfig": {"responseJsonSchema": {
            "type": "object",
            "properties": {
                "reasoning": {"type": "string"},
                "complexity_score": {"type": "integer", "minimum": 1, "maximum": 100},
                "model_choice": {"type": "string", "enum": ["flash", "pro"]}
            }
        }}});
        match decide(&body) {
            Reply::Text(t) => assert_eq!(
                serde_json::from_str::<Value>(&t).unwrap(),
                json!({"reasoning": "e2e", "complexity_score": 1, "model_choice": "flash"})
            ),
            other @ Reply::ToolCall { .. } => panic!("{other:?}"),
        }
    }

    #[test]
    fn array_commands_and_required_fields() {
        let schema = json!({"type": "object", "properties": {
            "command": {"type": "array", "items": {"type": "string"}},
            "description": {"type": "string"},
            "mode": {"type": "string", "enum": ["a", "b"]}
        }, "required": ["command", "description", "mode"]});
        assert_eq!(
            arguments(&schema, "ls"),
            json!({"command": ["bash", "-lc", "ls"], "description": "Publish the summary", "mode": "a"})
        );
    }
}
