//! Just enough HTML reading to act like a browser on Doorway's pages: the forms, their action
//! and method, and the named inputs and buttons inside them (hidden ones included), so the suite
//! posts exactly what a person's browser would. Never a regex over a field the suite guesses.

use std::collections::BTreeMap;

/// One `<form>` of a page.
#[derive(Debug, Clone)]
pub struct Form {
    pub action: String,
    pub method: String,
    /// `<input name=… value=…>` in document order (checkboxes only when checked).
    pub inputs: Vec<(String, String)>,
    /// `<button name=… value=…>`: submitting with one of them adds its pair.
    pub buttons: Vec<(String, String)>,
}

impl Form {
    /// The value of the first input called `name`.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.inputs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn has_input(&self, name: &str) -> bool {
        self.inputs.iter().any(|(k, _)| k == name)
    }

    /// What the browser sends: every input, `fill` replacing or adding values, plus the button
    /// `button` (`name`, `value`) if given.
    pub fn submission(&self, fill: &[(&str, &str)], button: Option<(&str, &str)>) -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> =
            self.inputs.iter().filter(|(k, _)| !fill.iter().any(|(f, _)| f == k)).cloned().collect();
        pairs.extend(fill.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        if let Some((name, value)) = button {
            pairs.push((name.to_owned(), value.to_owned()));
        }
        pairs
    }
}

/// Every form of a page.
pub fn forms(html: &str) -> Vec<Form> {
    let lower = html.to_ascii_lowercase();
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(start) = lower[at..].find("<form").map(|i| i + at) {
        let Some(tag_end) = lower[start..].find('>').map(|i| i + start) else { break };
        let attrs = attributes(&html[start + 5..tag_end]);
        let end = lower[tag_end..].find("</form").map_or(html.len(), |i| i + tag_end);
        let body = &html[tag_end..end];
        let mut form = Form {
            action: attrs.get("action").cloned().unwrap_or_default(),
            method: attrs.get("method").cloned().unwrap_or_else(|| "get".into()).to_ascii_lowercase(),
            inputs: Vec::new(),
            buttons: Vec::new(),
        };
        for (tag, attrs) in tags(body, &["input", "button"]) {
            let Some(name) = attrs.get("name").cloned() else { continue };
            let value = attrs.get("value").cloned().unwrap_or_default();
            if tag == "button" {
                form.buttons.push((name, value));
                continue;
            }
            let kind = attrs.get("type").map(|t| t.to_ascii_lowercase()).unwrap_or_default();
            let unchecked = matches!(kind.as_str(), "checkbox" | "radio") && !attrs.contains_key("checked");
            if kind != "submit" && !unchecked {
                form.inputs.push((name, value));
            }
        }
        found.push(form);
        at = end.max(tag_end + 1);
    }
    found
}

/// The first form with an input or button called `name`.
pub fn form_with(html: &str, name: &str) -> Option<Form> {
    forms(html).into_iter().find(|f| f.has_input(name) || f.buttons.iter().any(|(k, _)| k == name))
}

/// Tags named one of `names` in `html`, with their attributes.
fn tags(html: &str, names: &[&str]) -> Vec<(String, BTreeMap<String, String>)> {
    let lower = html.to_ascii_lowercase();
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(open) = lower[at..].find('<').map(|i| i + at) {
        let rest = &lower[open + 1..];
        let name_len = rest.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(rest.len());
        let name = &rest[..name_len];
        let Some(close) = lower[open..].find('>').map(|i| i + open) else { break };
        if names.contains(&name) {
            found.push((name.to_owned(), attributes(&html[open + 1 + name_len..close])));
        }
        at = close + 1;
    }
    found
}

/// `a="x" b='y' c=z d` → a map, names lowercased, values unescaped.
fn attributes(raw: &str) -> BTreeMap<String, String> {
    let mut attrs = BTreeMap::new();
    let bytes = raw.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
            i += 1;
        }
        let start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'=' && bytes[i] != b'/' {
            i += 1;
        }
        if start == i {
            i += 1;
            continue;
        }
        let name = raw[start..i].to_ascii_lowercase();
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if i < bytes.len() && bytes[i] == b'=' {
            i += 1;
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < bytes.len() && (bytes[i] == b'"' || bytes[i] == b'\'') {
                let quote = bytes[i];
                let begin = i + 1;
                i = begin;
                while i < bytes.len() && bytes[i] != quote {
                    i += 1;
                }
                value = raw[begin..i.min(raw.len())].to_owned();
                i += 1;
            } else {
                let begin = i;
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                value = raw[begin..i].to_owned();
            }
        }
        attrs.entry(name).or_insert_with(|| unescape(&value));
    }
    attrs
}

/// The character references a template engine writes into attribute values.
pub fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp..];
        let Some(semi) = after.find(';').filter(|s| *s <= 10) else {
            out.push('&');
            rest = &after[1..];
            continue;
        };
        let entity = &after[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ if entity.starts_with("#x") || entity.starts_with("#X") => {
                u32::from_str_radix(&entity[2..], 16).ok().and_then(char::from_u32)
            }
            _ if entity.starts_with('#') => entity[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &after[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}
