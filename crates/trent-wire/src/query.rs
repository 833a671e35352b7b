//! The awsQuery protocol used by IAM and STS: `application/x-www-form-urlencoded` requests
//! (`Action=CreateUser&Version=2010-05-08&UserName=bob&Tags.member.1.Key=team`) and XML
//! responses:
//!
//! ```text
//! <CreateUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
//!   <CreateUserResult>…</CreateUserResult>
//!   <ResponseMetadata><RequestId>…</RequestId></ResponseMetadata>
//! </CreateUserResponse>
//! ```
//!
//! and errors:
//!
//! ```text
//! <ErrorResponse xmlns="…"><Error><Type>Sender</Type><Code>NoSuchEntity</Code>
//!   <Message>…</Message></Error><RequestId>…</RequestId></ErrorResponse>
//! ```
//!
//! Lists are `Name.member.N` (N from 1), structures in lists `Name.member.N.Field`, maps
//! `Name.entry.N.key` / `Name.entry.N.value`. XML is written by hand with escaping; no XML
//! library is needed for output this regular.

use std::collections::BTreeMap;

use zeroize::Zeroizing;

use crate::AwsError;

/// The XML namespace of IAM responses.
pub const IAM_XMLNS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
/// The XML namespace of STS responses.
pub const STS_XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// The `Content-Type` of awsQuery responses.
pub const CONTENT_TYPE: &str = "text/xml";

/// A request that is not well-formed awsQuery, or lacks what every awsQuery request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    /// Bad percent-encoding, invalid UTF-8, a parameter given twice.
    MalformedQueryString(String),
    /// No `Action` parameter.
    MissingAction,
    /// A required parameter is absent.
    MissingParameter(String),
    /// A parameter does not have the form the action needs (e.g. a list index that is not a number).
    InvalidParameterValue(String),
}

impl AwsError for QueryError {
    fn code(&self) -> &'static str {
        match self {
            QueryError::MalformedQueryString(_) => "MalformedQueryString",
            QueryError::MissingAction => "MissingAction",
            QueryError::MissingParameter(_) => "MissingParameter",
            QueryError::InvalidParameterValue(_) => "InvalidParameterValue",
        }
    }

    fn message(&self) -> String {
        match self {
            QueryError::MalformedQueryString(m) | QueryError::InvalidParameterValue(m) => m.clone(),
            QueryError::MissingAction => "The request must contain the parameter Action.".into(),
            QueryError::MissingParameter(p) => format!("The request must contain the parameter {p}."),
        }
    }

    fn status(&self) -> u16 {
        400
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes one `application/x-www-form-urlencoded` component (`+` is a space).
fn form_decode(s: &[u8]) -> Result<String, QueryError> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = s.get(i + 1).copied().and_then(hex);
                let lo = s.get(i + 2).copied().and_then(hex);
                match (hi, lo) {
                    (Some(h), Some(l)) => out.push(h << 4 | l),
                    _ => {
                        return Err(QueryError::MalformedQueryString(
                            "The query string contains an invalid percent-encoding.".into(),
                        ))
                    }
                }
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out)
        .map_err(|_| QueryError::MalformedQueryString("The query string is not valid UTF-8 once decoded.".into()))
}

/// Form parameters by name. `Debug` shows the names only: values may be secret.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Params {
    map: BTreeMap<String, String>,
}

impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.map.keys()).finish()
    }
}

impl Params {
    /// Decodes a form body or a URI query string. An empty body has no parameters.
    pub fn decode(body: &[u8]) -> Result<Params, QueryError> {
        let mut map = BTreeMap::new();
        for pair in body.split(|b| *b == b'&') {
            if pair.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let (k, v) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            let key = form_decode(k)?;
            if key.is_empty() {
                return Err(QueryError::MalformedQueryString("The query string has a parameter with no name.".into()));
            }
            let value = form_decode(v)?;
            if map.contains_key(&key) {
                return Err(QueryError::MalformedQueryString(format!("The parameter {key} is given more than once.")));
            }
            map.insert(key, value);
        }
        Ok(Params { map })
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(String::as_str)
    }

    /// The value of `name`, or `MissingParameter`.
    pub fn required(&self, name: &str) -> Result<&str, QueryError> {
        self.get(name).ok_or_else(|| QueryError::MissingParameter(name.to_string()))
    }

    /// Every parameter name (sorted).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }

    /// The parameters under `prefix.` with that prefix removed (`Tags.member.1.Key` under
    /// `Tags.member.1` is `Key`).
    pub fn under(&self, prefix: &str) -> Params {
        let dotted = format!("{prefix}.");
        Params {
            map: self
                .map
                .iter()
                .filter_map(|(k, v)| k.strip_prefix(&dotted).map(|rest| (rest.to_string(), v.clone())))
                .collect(),
        }
    }

    /// The numbered groups `prefix.N…` in order of N (N ≥ 1): each as the parameters under it,
    /// plus the value of `prefix.N` itself if present (as the parameter named `""`).
    fn numbered(&self, prefix: &str) -> Result<Vec<Params>, QueryError> {
        let dotted = format!("{prefix}.");
        let mut groups: BTreeMap<u32, Params> = BTreeMap::new();
        for (k, v) in &self.map {
            let Some(rest) = k.strip_prefix(&dotted) else { continue };
            let (index, field) = match rest.split_once('.') {
                Some((i, f)) => (i, f),
                None => (rest, ""),
            };
            let n: u32 = match index.parse() {
                Ok(n) if n >= 1 && !index.starts_with('0') => n,
                _ => return Err(QueryError::InvalidParameterValue(format!("{k} is not a valid list member name."))),
            };
            groups.entry(n).or_default().map.insert(field.to_string(), v.clone());
        }
        Ok(groups.into_values().collect())
    }

    /// A list of strings: `name.member.1`, `name.member.2`, … in index order.
    pub fn list(&self, name: &str) -> Result<Vec<String>, QueryError> {
        self.numbered(&format!("{name}.member"))?
            .into_iter()
            .map(|g| {
                g.get("").map(str::to_string).ok_or_else(|| {
                    QueryError::InvalidParameterValue(format!("{name}.member entries must be plain values."))
                })
            })
            .collect()
    }

    /// A list of structures: `name.member.N.Field` → one [`Params`] per N with `Field` keys.
    pub fn structs(&self, name: &str) -> Result<Vec<Params>, QueryError> {
        self.numbered(&format!("{name}.member"))
    }

    /// A map: `name.entry.N.key` / `name.entry.N.value` (both required per entry).
    pub fn map(&self, name: &str) -> Result<BTreeMap<String, String>, QueryError> {
        let mut out = BTreeMap::new();
        for e in self.numbered(&format!("{name}.entry"))? {
            let (Some(k), Some(v)) = (e.get("key"), e.get("value")) else {
                return Err(QueryError::InvalidParameterValue(format!("Every {name}.entry needs a key and a value.")));
            };
            out.insert(k.to_string(), v.to_string());
        }
        Ok(out)
    }
}

/// A decoded awsQuery request: `Action`, `Version`, and the other parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryRequest {
    pub action: String,
    pub version: Option<String>,
    /// Every parameter except `Action` and `Version`.
    pub params: Params,
}

/// Decodes an awsQuery request body.
pub fn decode(body: &[u8]) -> Result<QueryRequest, QueryError> {
    let mut params = Params::decode(body)?;
    let action = params.map.remove("Action").filter(|a| !a.is_empty()).ok_or(QueryError::MissingAction)?;
    let version = params.map.remove("Version");
    Ok(QueryRequest { action, version, params })
}

/// Escapes text for XML content and attribute values. Characters XML 1.0 cannot carry
/// (most C0 controls, U+FFFE, U+FFFF) become U+FFFD; `\r` is written as `&#xD;` so that it
/// survives XML line-ending normalisation.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(&mut out, s);
    out
}

fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#xD;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

/// An XML element writer. The buffer is zeroized on drop (responses such as CreateAccessKey
/// and AssumeRole carry secret keys); `Debug` shows only its length.
pub struct XmlWriter {
    buf: Zeroizing<String>,
}

impl std::fmt::Debug for XmlWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "XmlWriter(<{} bytes>)", self.buf.len())
    }
}

impl Default for XmlWriter {
    fn default() -> Self {
        XmlWriter::new()
    }
}

fn check_name(name: &str) {
    // Element names come from our own code (AWS member names), never from requests.
    debug_assert!(
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
        "invalid XML element name {name:?}"
    );
}

impl XmlWriter {
    pub fn new() -> Self {
        XmlWriter { buf: Zeroizing::new(String::with_capacity(1024)) }
    }

    fn reserve(&mut self, extra: usize) {
        // Grow by copying into a new zeroizing buffer so no unzeroized copy is left behind.
        if self.buf.capacity() - self.buf.len() < extra {
            let mut bigger = Zeroizing::new(String::with_capacity((self.buf.len() + extra) * 2));
            bigger.push_str(&self.buf);
            self.buf = bigger;
        }
    }

    /// `<name>escaped text</name>`.
    pub fn text(&mut self, name: &str, value: &str) -> &mut Self {
        check_name(name);
        self.reserve(2 * name.len() + 5 + value.len() * 6);
        self.buf.push('<');
        self.buf.push_str(name);
        self.buf.push('>');
        escape_into(&mut self.buf, value);
        self.buf.push_str("</");
        self.buf.push_str(name);
        self.buf.push('>');
        self
    }

    /// `<name>text</name>` when `value` is `Some`; nothing otherwise (AWS omits absent members).
    pub fn opt_text(&mut self, name: &str, value: Option<&str>) -> &mut Self {
        if let Some(v) = value {
            self.text(name, v);
        }
        self
    }

    /// `<name>true</name>` / `<name>false</name>`.
    pub fn boolean(&mut self, name: &str, value: bool) -> &mut Self {
        self.text(name, if value { "true" } else { "false" })
    }

    /// An integer member.
    pub fn number(&mut self, name: &str, value: i64) -> &mut Self {
        self.text(name, &value.to_string())
    }

    /// A timestamp member in ISO 8601 (`2024-01-02T03:04:05Z`), as awsQuery writes them.
    pub fn timestamp(&mut self, name: &str, epoch_secs: i64) -> &mut Self {
        self.text(name, &iso8601(epoch_secs))
    }

    /// `<name>…children…</name>`.
    pub fn node(&mut self, name: &str, children: impl FnOnce(&mut XmlWriter)) -> &mut Self {
        check_name(name);
        self.reserve(name.len() + 2);
        self.buf.push('<');
        self.buf.push_str(name);
        self.buf.push('>');
        children(self);
        self.reserve(name.len() + 3);
        self.buf.push_str("</");
        self.buf.push_str(name);
        self.buf.push('>');
        self
    }

    /// A list: `<name><member>…</member>…</name>`; an empty list is `<name></name>`, which
    /// botocore reads as an empty list.
    pub fn members<T>(&mut self, name: &str, items: &[T], mut each: impl FnMut(&mut XmlWriter, &T)) -> &mut Self {
        self.node(name, |w| {
            for item in items {
                w.node("member", |w| each(w, item));
            }
        })
    }

    /// A list of strings: `<name><member>a</member>…</name>`.
    pub fn string_members(&mut self, name: &str, items: &[&str]) -> &mut Self {
        self.node(name, |w| {
            for s in items {
                w.text("member", s);
            }
        })
    }

    fn into_inner(self) -> Zeroizing<String> {
        self.buf
    }
}

/// ISO 8601 UTC with seconds (`2024-01-02T03:04:05Z`); out-of-range times clamp to the epoch.
pub fn iso8601(epoch_secs: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(epoch_secs).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The response envelope: `<ActionResponse xmlns><ActionResult>…</ActionResult>
/// <ResponseMetadata><RequestId>…</RequestId></ResponseMetadata></ActionResponse>`.
/// `result: None` writes no `ActionResult` (DeleteUser and other actions without output).
pub fn response(action: &str, xmlns: &str, request_id: &str, result: Option<XmlWriter>) -> Zeroizing<Vec<u8>> {
    check_name(action);
    let inner = result.map(XmlWriter::into_inner);
    let mut out = Zeroizing::new(String::with_capacity(inner.as_ref().map_or(0, |s| s.len()) + 256));
    out.push('<');
    out.push_str(action);
    out.push_str("Response xmlns=\"");
    escape_into(&mut out, xmlns);
    out.push_str("\">");
    if let Some(inner) = &inner {
        out.push('<');
        out.push_str(action);
        out.push_str("Result>");
        out.push_str(inner);
        out.push_str("</");
        out.push_str(action);
        out.push_str("Result>");
    }
    out.push_str("<ResponseMetadata><RequestId>");
    escape_into(&mut out, request_id);
    out.push_str("</RequestId></ResponseMetadata></");
    out.push_str(action);
    out.push_str("Response>");
    Zeroizing::new(std::mem::take(&mut *out).into_bytes())
}

/// The awsQuery error envelope for `err`: `Type` is `Sender` for a 4xx status and `Receiver`
/// for a 5xx one. The message is the client-safe `AwsError::message`.
pub fn error_response(err: &dyn AwsError, xmlns: Option<&str>, request_id: &str) -> Vec<u8> {
    let kind = if err.status() >= 500 { "Receiver" } else { "Sender" };
    let mut out = String::with_capacity(256);
    out.push_str("<ErrorResponse");
    if let Some(ns) = xmlns {
        out.push_str(" xmlns=\"");
        escape_into(&mut out, ns);
        out.push('"');
    }
    out.push_str("><Error><Type>");
    out.push_str(kind);
    out.push_str("</Type><Code>");
    escape_into(&mut out, err.code());
    out.push_str("</Code><Message>");
    escape_into(&mut out, &err.message());
    out.push_str("</Message></Error><RequestId>");
    escape_into(&mut out, request_id);
    out.push_str("</RequestId></ErrorResponse>");
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_action_version_and_percent_encoded_values() {
        let r = decode(b"Action=CreateUser&Version=2010-05-08&UserName=bob%2Bdev&Path=%2Fteam+a%2F").unwrap();
        assert_eq!(r.action, "CreateUser");
        assert_eq!(r.version.as_deref(), Some("2010-05-08"));
        assert_eq!(r.params.get("UserName"), Some("bob+dev"));
        assert_eq!(r.params.get("Path"), Some("/team a/"));
        assert!(r.params.get("Action").is_none());
    }

    #[test]
    fn decodes_utf8_policy_documents() {
        let doc = r#"{"Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]} é"#;
        let mut body = b"Action=PutUserPolicy&PolicyDocument=".to_vec();
        for b in doc.bytes() {
            body.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
        let r = decode(&body).unwrap();
        assert_eq!(r.params.get("PolicyDocument"), Some(doc));
    }

    #[test]
    fn missing_action_is_missing_action() {
        assert_eq!(decode(b"Version=2010-05-08").unwrap_err(), QueryError::MissingAction);
        assert_eq!(decode(b"").unwrap_err(), QueryError::MissingAction);
        assert_eq!(decode(b"Action=").unwrap_err(), QueryError::MissingAction);
        assert_eq!(QueryError::MissingAction.code(), "MissingAction");
    }

    #[test]
    fn rejects_bad_percent_encoding_invalid_utf8_and_duplicates() {
        for body in [&b"Action=X&A=%G1"[..], b"Action=X&A=%4", b"Action=X&A=%FF%FE", b"Action=X&A=1&A=2", b"=x"] {
            let e = decode(body).unwrap_err();
            assert_eq!(e.code(), "MalformedQueryString", "{:?}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn parameter_without_equals_has_empty_value_and_empty_pairs_are_skipped() {
        let r = decode(b"Action=ListUsers&&Marker&").unwrap();
        assert_eq!(r.params.get("Marker"), Some(""));
    }

    #[test]
    fn required_reports_missing_parameter() {
        let r = decode(b"Action=GetUser").unwrap();
        let e = r.params.required("UserName").unwrap_err();
        assert_eq!(e.code(), "MissingParameter");
        assert_eq!(e.message(), "The request must contain the parameter UserName.");
    }

    #[test]
    fn lists_are_ordered_by_numeric_index() {
        let r = decode(b"Action=X&Ids.member.10=j&Ids.member.2=b&Ids.member.1=a").unwrap();
        assert_eq!(r.params.list("Ids").unwrap(), vec!["a", "b", "j"]);
        assert!(r.params.list("Other").unwrap().is_empty());
    }

    #[test]
    fn structure_lists_group_fields_by_member() {
        let r = decode(b"Action=TagUser&Tags.member.1.Key=team&Tags.member.1.Value=db&Tags.member.2.Key=env&Tags.member.2.Value=prod")
            .unwrap();
        let tags = r.params.structs("Tags").unwrap();
        assert_eq!(tags.len(), 2);
        assert_eq!((tags[0].get("Key"), tags[0].get("Value")), (Some("team"), Some("db")));
        assert_eq!((tags[1].get("Key"), tags[1].get("Value")), (Some("env"), Some("prod")));
    }

    #[test]
    fn nested_lists_inside_structures() {
        let r = decode(b"Action=X&Ctx.member.1.Values.member.1=a&Ctx.member.1.Values.member.2=b").unwrap();
        let ctx = r.params.structs("Ctx").unwrap();
        assert_eq!(ctx[0].list("Values").unwrap(), vec!["a", "b"]);
    }

    #[test]
    fn bad_member_index_is_invalid_parameter_value() {
        for body in [&b"Action=X&Ids.member.x=a"[..], b"Action=X&Ids.member.0=a", b"Action=X&Ids.member.01=a"] {
            assert_eq!(decode(body).unwrap().params.list("Ids").unwrap_err().code(), "InvalidParameterValue");
        }
        let r = decode(b"Action=X&Tags.member.1.Key=a").unwrap();
        assert!(r.params.list("Tags").is_err(), "a structure is not a plain value");
    }

    #[test]
    fn maps_use_entry_key_and_value() {
        let r = decode(b"Action=X&Attrs.entry.1.key=a&Attrs.entry.1.value=1&Attrs.entry.2.key=b&Attrs.entry.2.value=2")
            .unwrap();
        let m = r.params.map("Attrs").unwrap();
        assert_eq!(m.get("a").map(String::as_str), Some("1"));
        assert_eq!(m.get("b").map(String::as_str), Some("2"));
        let r = decode(b"Action=X&Attrs.entry.1.key=a").unwrap();
        assert_eq!(r.params.map("Attrs").unwrap_err().code(), "InvalidParameterValue");
    }

    #[test]
    fn debug_of_params_shows_names_not_values() {
        let r = decode(b"Action=X&Password=hunter2").unwrap();
        let d = format!("{r:?}");
        assert!(d.contains("Password") && !d.contains("hunter2"), "{d}");
    }

    #[test]
    fn escape_handles_markup_quotes_and_control_characters() {
        assert_eq!(escape(r#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&apos;");
        assert_eq!(escape("a\r\nb\tc"), "a&#xD;\nb\tc");
        assert_eq!(escape("nul\u{0}bell\u{7}"), "nul\u{FFFD}bell\u{FFFD}");
        assert_eq!(escape("é ✓"), "é ✓");
    }

    #[test]
    fn response_envelope_wraps_result_and_request_id() {
        let mut w = XmlWriter::new();
        w.node("User", |w| {
            w.text("Path", "/").text("UserName", "bob & co").text("Arn", "arn:aws:iam::111122223333:user/bob");
            w.timestamp("CreateDate", 1_700_000_000);
        });
        let body = response("CreateUser", IAM_XMLNS, "req-1", Some(w));
        let s = std::str::from_utf8(&body).unwrap();
        assert_eq!(
            s,
            "<CreateUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><CreateUserResult><User>\
             <Path>/</Path><UserName>bob &amp; co</UserName><Arn>arn:aws:iam::111122223333:user/bob</Arn>\
             <CreateDate>2023-11-14T22:13:20Z</CreateDate></User></CreateUserResult><ResponseMetadata>\
             <RequestId>req-1</RequestId></ResponseMetadata></CreateUserResponse>"
        );
    }

    #[test]
    fn response_without_result_has_only_metadata() {
        let body = response("DeleteUser", IAM_XMLNS, "r", None);
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            "<DeleteUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><ResponseMetadata>\
             <RequestId>r</RequestId></ResponseMetadata></DeleteUserResponse>"
        );
    }

    #[test]
    fn lists_booleans_numbers_and_optional_members() {
        let mut w = XmlWriter::new();
        w.members("Users", &["a", "b"], |w, u| {
            w.text("UserName", u);
        });
        w.boolean("IsTruncated", false).number("MaxItems", 100).opt_text("Marker", None);
        let body = response("ListUsers", IAM_XMLNS, "r", Some(w));
        let s = std::str::from_utf8(&body).unwrap();
        assert!(s.contains(
            "<ListUsersResult><Users><member><UserName>a</UserName></member><member><UserName>b</UserName></member></Users>\
             <IsTruncated>false</IsTruncated><MaxItems>100</MaxItems></ListUsersResult>"
        ));
        assert!(!s.contains("Marker"));
    }

    #[test]
    fn string_lists_are_member_elements() {
        let mut w = XmlWriter::new();
        w.string_members("PolicyNames", &["p1", "p<2>"]);
        let body = response("ListUserPolicies", IAM_XMLNS, "r", Some(w));
        let s = std::str::from_utf8(&body).unwrap();
        assert!(s.contains("<PolicyNames><member>p1</member><member>p&lt;2&gt;</member></PolicyNames>"), "{s}");
    }

    #[test]
    fn large_results_grow_the_buffer_intact() {
        let mut w = XmlWriter::new();
        let long = "x".repeat(5000);
        for _ in 0..10 {
            w.text("V", &long);
        }
        let body = response("GetThing", STS_XMLNS, "r", Some(w));
        assert_eq!(std::str::from_utf8(&body).unwrap().matches(&long).count(), 10);
    }

    #[test]
    fn error_envelope_is_sender_for_client_errors_and_escapes_message() {
        let e = QueryError::InvalidParameterValue("bad <value> & more".into());
        let body = error_response(&e, Some(IAM_XMLNS), "req-9");
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type>\
             <Code>InvalidParameterValue</Code><Message>bad &lt;value&gt; &amp; more</Message></Error>\
             <RequestId>req-9</RequestId></ErrorResponse>"
        );
    }

    #[test]
    fn error_envelope_is_receiver_for_server_errors() {
        struct Internal;
        impl AwsError for Internal {
            fn code(&self) -> &'static str {
                "ServiceFailure"
            }
            fn message(&self) -> String {
                "An internal error occurred.".into()
            }
            fn status(&self) -> u16 {
                500
            }
        }
        let body = error_response(&Internal, None, "r");
        let s = std::str::from_utf8(&body).unwrap();
        assert!(s.starts_with("<ErrorResponse><Error><Type>Receiver</Type><Code>ServiceFailure</Code>"), "{s}");
    }

    fn form_encode(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                b' ' => "+".to_string(),
                b => format!("%{b:02X}"),
            })
            .collect()
    }

    fn unescape(s: &str) -> String {
        s.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&#xD;", "\r")
            .replace("&amp;", "&")
    }

    proptest::proptest! {
        #[test]
        fn form_encoded_parameters_round_trip(
            params in proptest::collection::btree_map("[A-Za-z][A-Za-z0-9.]{0,12}", "\\PC{0,20}", 0..6),
            value in "\\PC{0,40}",
        ) {
            let mut body = format!("Action=Test&Value={}", form_encode(&value));
            for (k, v) in &params {
                if k == "Action" || k == "Value" {
                    continue;
                }
                body.push_str(&format!("&{}={}", form_encode(k), form_encode(v)));
            }
            let r = decode(body.as_bytes()).unwrap();
            proptest::prop_assert_eq!(r.action.as_str(), "Test");
            proptest::prop_assert_eq!(r.params.get("Value"), Some(value.as_str()));
            for (k, v) in &params {
                if k != "Action" && k != "Value" && k != "Version" {
                    proptest::prop_assert_eq!(r.params.get(k), Some(v.as_str()));
                }
            }
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            if let Ok(r) = decode(&body) {
                let _ = r.params.list("A");
                let _ = r.params.structs("A");
                let _ = r.params.map("A");
            }
        }

        #[test]
        fn escaped_text_has_no_markup_and_unescapes_to_the_original(s in "[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F]{0,40}") {
            let e = escape(&s);
            proptest::prop_assert!(!e.contains('<') && !e.contains('>') && !e.contains('"') && !e.contains('\''));
            proptest::prop_assert_eq!(unescape(&e), s);
        }
    }

    #[test]
    fn iso8601_formats_utc_seconds() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(iso8601(i64::MAX), "1970-01-01T00:00:00Z");
    }
}
