//! `agent-offload profiles`: what is configured and from which file.

use crate::harness::Test;

const CONFIG: &str = "default_profile: b\nprofiles:\n  a:\n    command: /opt/x\n    args: \
                      [\"--m\", \"a b\"]\n    interface: claude\n    headless: true\n    \
                      timeout: 90s\n  b:\n    command: y\n    prompt: stdin\n  c:\n    \
                      command: z\n    interface: pi\n    prompt: prompt-file-arg\n    args: \
                      [\"{prompt_file}\"]\n    headless: auto\n";

#[test]
fn table_marks_the_default_and_names_the_config() {
    let out = Test::new().config(CONFIG).arg("profiles").run();
    out.status(0);
    let path = out.test.config_path();
    out.stdout_is(&format!(
        "config: {} (user)\n\
         \x20  PROFILE  INTERFACE  PROMPT           MODE      COMMAND\n\
         \x20  a        claude     argument         headless  /opt/x --m 'a b'\n\
         *  b        generic    stdin            tmux      y\n\
         \x20  c        pi         prompt-file-arg  auto      z '{{prompt_file}}'\n\
         (* = default profile)\n",
        path.display()
    ));
}

#[test]
fn json_lists_every_profile() {
    let t = Test::new().config(CONFIG);
    let path = t.config_path();
    let out = t.args(["profiles", "--json"]).run();
    out.status(0);
    let v: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(v["config"], path.display().to_string());
    assert_eq!(v["origin"], "user");
    assert_eq!(v["default_profile"], "b");
    let p = v["profiles"].as_array().unwrap();
    assert_eq!(p.len(), 3);
    assert_eq!(
        p[0],
        serde_json::json!({
            "name": "a", "default": false, "command": "/opt/x", "args": ["--m", "a b"],
            "interface": "claude", "prompt": "argument", "mode": "headless",
            "timeout": "1m30s", "focus": false, "builtin": false
        })
    );
    assert_eq!(p[1]["name"], "b");
    assert_eq!(p[1]["default"], true);
    assert_eq!(p[1]["mode"], "tmux");
    assert_eq!(p[1]["timeout"], serde_json::Value::Null);
    assert_eq!(p[2]["prompt"], "prompt-file-arg");
    // `auto`: a pane inside tmux, headless outside.
    assert_eq!(p[2]["mode"], "auto");
    assert_eq!(p[2]["default"], false);
}

/// `profiles --config` and the config-wide `headless`.
#[test]
fn explicit_config_and_global_headless() {
    let t = Test::new().file(
        "other.yaml",
        "headless: true\nprofiles:\n  only:\n    command: q\n",
    );
    let other = t.path().join("other.yaml");
    let out = t
        .arg("profiles")
        .arg("--config")
        .arg(&other)
        .arg("--json")
        .run();
    out.status(0);
    let v: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(v["config"], other.display().to_string());
    assert_eq!(v["origin"], "--config");
    // The only profile is the default without saying so.
    assert_eq!(v["default_profile"], "only");
    assert_eq!(v["profiles"][0]["default"], true);
    assert_eq!(v["profiles"][0]["mode"], "headless");
}

#[test]
fn config_errors_apply_to_profiles_too() {
    let out = Test::new()
        .config("profiles:\n  a:\n    command: x\n    comand: y\n")
        .arg("profiles")
        .run();
    out.status(2).stdout_is("");
    out.stderr_contains(":4:5: profile \"a\": unknown field \"comand\"");
}
