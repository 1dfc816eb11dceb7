//! The normalised form of a web script, scanned by the rules beside its raw bytes.
//!
//! Web shells hide their behaviour from byte patterns with tricks that do not change what the
//! code does: comments between tokens (`eval/*x*/(`), strings cut into pieces and joined again
//! (`"ev"+"al"`, `"u" & "nsafe"`, `String.Concat("a","b")`), characters written as their codes
//! (`Chr(101)`, `String.fromCharCode(0x65)`, `(char)(50+51)`), whitespace and line breaks, and
//! values passed through variables (`string c = Request["c"]; … new SqlConnection(c)`).
//! [`normalize`] undoes those in one bounded pass so the rules can key on behaviour:
//!
//! * text is decoded to UTF-8 first when it is UTF-16 (a BOM, or every other byte zero);
//! * only server code is rewritten: `<% … %>` blocks, `<script runat="server">` blocks, and
//!   everything after a `WebHandler` / `WebService` / `ServiceHost` directive; markup outside
//!   them is copied unchanged, except server comments `<%-- … --%>`, which are dropped;
//! * in code: comments are removed (`/* */` and `//` in C#/JScript, `'` and `REM` in VB);
//!   string literals are decoded (`\x75`, `\u0075`, `\"`; VB `""`) and written back between
//!   double quotes *without* re-escaping, so `"eval(Request[\"z\"])"` reads
//!   `"eval(Request["z"])"`; character codes with a constant argument (folded integer
//!   arithmetic: `+ - * / %`, parentheses, decimal, `0x` and VB `&H` numbers) become one-character
//!   strings; adjacent strings joined by `+` (and `&` in VB) or passed to `String.Concat` become
//!   one string; a base64 literal handed to `FromBase64String` or `atob` is decoded when it holds
//!   text; whitespace is dropped where the language ignores it (a single space stays between
//!   two words; VB keeps its line breaks, which end statements); VB identifiers are lowercased
//!   (VB ignores case);
//! * a variable assigned exactly once in the file, to a string constant or to an expression that
//!   reads the request (`Request…`, `context.Request…`) or a server control's text (`x.Text`), is
//!   replaced at its later uses by that value (in parentheses): data flow from the request to a
//!   sink becomes visible as one expression.
//!
//! Bounds: at most [`MAX_INPUT`] bytes of the stream are normalised (the rest is left out), the
//! output is at most [`MAX_OUTPUT_FACTOR`] times the input (inlining stops there), an inlined
//! value is at most [`MAX_INLINE_TOKENS`] tokens and a folded character-code expression at most
//! [`MAX_EXPR_TOKENS`] tokens. Every step is a single forward pass over the tokens, so the time is
//! linear in the input.
//!
//! The scan ([`crate::scan`]) runs the rules over this text as well, with the external variable
//! `deadbox_form` set to `"normalised"` (it is `"raw"` for the bytes themselves); a rule that
//! matches only the normalised text gives a finding that says so in its title and carries
//! `form = "normalised"` in its metadata. The match offsets of such a finding are offsets into
//! the normalised text, not into the file.

use std::collections::HashMap;

/// Bytes of a stream that are normalised (the first 4 MiB; web scripts are far smaller).
pub const MAX_INPUT: usize = 4 << 20;
/// Largest output, as a multiple of the input (variable inlining stops growing it there).
pub const MAX_OUTPUT_FACTOR: usize = 3;
/// Most tokens of a value inlined at a variable's use.
pub const MAX_INLINE_TOKENS: usize = 48;
/// Most tokens of a constant integer expression folded into a character code.
pub const MAX_EXPR_TOKENS: usize = 64;
/// Longest `<script …>` tag looked at.
const MAX_TAG: usize = 1024;

/// Whether a stream is worth normalising: a web-script name, or server-side markers in its
/// first 64 KiB (`<%`, `runat`), which also covers scripts renamed to `.txt` or hidden in images.
pub fn looks_like_server_script(name_is_web: bool, data: &[u8]) -> bool {
    if data.is_empty() {
        return false;
    }
    if name_is_web {
        return true;
    }
    let head = &data[..data.len().min(64 << 10)];
    let text = decode(head);
    // In binary data `<%` is common (two random bytes: 64 KiB of random data holds it more
    // often than not, which made every compressed or encrypted file a "script" to normalise
    // — 4 MiB each). A marker counts only where code follows it: of the next 128 bytes (or
    // to the end) no NUL and at least 3 in 4 ASCII text (random bytes: about 2 in 5; code is
    // ASCII even where its comments are not), a closing `>` among them.
    let texty = |at: usize| {
        let w = &text[at..text.len().min(at + 128)];
        let ascii = w
            .iter()
            .filter(|&&c| matches!(c, b'\t' | b'\n' | b'\r' | 0x20..=0x7e))
            .count();
        !w.contains(&0) && ascii * 4 >= w.len() * 3 && memchr(b'>', w).is_some()
    };
    let mut from = 0;
    // At most 256 markers are looked at: a file of `<%` pairs stays cheap.
    for _ in 0..256 {
        let Some(p) = memfind(&text[from..], b"<%") else {
            break;
        };
        if texty(from + p) {
            return true;
        }
        from += p + 2;
    }
    find_nocase(&text, b"runat").is_some_and(|p| texty(p.saturating_sub(64)))
}

/// The normalised text of a web script (see the module documentation).
pub fn normalize(data: &[u8]) -> Vec<u8> {
    let data = &data[..data.len().min(MAX_INPUT)];
    let text = decode(data);
    let text: &[u8] = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&text);
    let default_lang = page_language(text);
    let budget = text.len() * MAX_OUTPUT_FACTOR + 4096;
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        if rest.starts_with(b"<%--") {
            // Server-side comment: dropped.
            i += memfind(&rest[4..], b"--%>").map_or(rest.len(), |e| e + 8);
            continue;
        }
        if rest.starts_with(b"<%") {
            let end = memfind(&rest[2..], b"%>").map_or(rest.len(), |e| e + 2);
            let inner = &rest[2..end];
            out.extend_from_slice(b"<%");
            let directive = inner.first() == Some(&b'@');
            code(inner, default_lang, &mut out, budget);
            if end < rest.len() {
                out.extend_from_slice(b"%>");
            }
            i += (end + 2).min(rest.len());
            if directive && is_code_file_directive(inner) {
                // The rest of a handler or service file is code.
                out.push(b'\n');
                code(&text[i..], default_lang, &mut out, budget);
                break;
            }
            continue;
        }
        if rest.len() > 7 && rest[0] == b'<' && rest[1..7].eq_ignore_ascii_case(b"script") {
            // A tag is at most MAX_TAG bytes (so a stray `<script` costs little).
            let tag_end = memchr(b'>', &rest[..rest.len().min(MAX_TAG)]);
            let tag = &rest[..tag_end.map_or(0, |e| e + 1)];
            if let (Some(tag_end), Some(_)) = (tag_end, find_nocase(tag, b"runat")) {
                let lang = tag_language(tag).unwrap_or(default_lang);
                let body = &rest[tag_end + 1..];
                let close = find_nocase(body, b"</script").unwrap_or(body.len());
                out.extend_from_slice(tag);
                code(&body[..close], lang, &mut out, budget);
                i += tag_end + 1 + close;
                continue;
            }
        }
        out.push(rest[0]);
        i += 1;
    }
    out
}

/// The languages whose syntax the normaliser knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    /// C# (and C-like code in general).
    CSharp,
    /// JScript / JScript.NET / JavaScript.
    JScript,
    /// VB.NET / VBScript.
    Vb,
}

fn lang_from(value: &[u8]) -> Option<Lang> {
    let v: Vec<u8> = value
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'#')
        .map(u8::to_ascii_lowercase)
        .collect();
    match v.as_slice() {
        b"vb" | b"vbscript" | b"visualbasic" => Some(Lang::Vb),
        b"c#" | b"cs" | b"csharp" => Some(Lang::CSharp),
        b"jscript" | b"javascript" | b"js" => Some(Lang::JScript),
        _ => None,
    }
}

/// The `language=` value of a tag or directive.
fn tag_language(tag: &[u8]) -> Option<Lang> {
    let at = find_nocase(tag, b"language")?;
    let mut rest = &tag[at + 8..];
    rest = trim_start(rest);
    rest = rest.strip_prefix(b"=")?;
    rest = trim_start(rest);
    while let Some((&c, r)) = rest.split_first() {
        if c == b'"' || c == b'\'' || !c.is_ascii() {
            rest = r; // quotes, and the odd non-ASCII quote of some copies
        } else {
            break;
        }
    }
    lang_from(rest)
}

/// The language of the page: its first directive's `Language`, else a guess from VB keywords.
fn page_language(text: &[u8]) -> Lang {
    let head = &text[..text.len().min(64 << 10)];
    let mut from = 0;
    while let Some(d) = memfind(&head[from..], b"<%@").map(|d| from + d) {
        let end = memfind(&head[d..], b"%>").map_or(head.len(), |e| d + e);
        if let Some(l) = tag_language(&head[d..end]) {
            return l;
        }
        from = end;
    }
    // No language said: VB (classic ASP's default) when VB words appear and no server block
    // has C-like braces or semicolons.
    let vb_words = [
        &b"end if"[..],
        b"end sub",
        b"dim ",
        b"createobject(",
        b"chr(",
        b"chrw(",
        b"execute(",
        b"executeglobal",
    ];
    let vb = vb_words.iter().any(|w| find_nocase(head, w).is_some());
    let mut c_like = false;
    let mut from = 0;
    while let Some(b) = memfind(&head[from..], b"<%").map(|b| from + b) {
        let end = memfind(&head[b..], b"%>").map_or(head.len(), |e| b + e);
        c_like |= head[b..end].iter().any(|c| matches!(c, b'{' | b';'));
        from = end;
    }
    if vb && !c_like {
        Lang::Vb
    } else {
        Lang::CSharp
    }
}

fn is_code_file_directive(inner: &[u8]) -> bool {
    let body = trim_start(&inner[1..]);
    [&b"webhandler"[..], b"webservice", b"servicehost"]
        .iter()
        .any(|w| body.len() >= w.len() && body[..w.len()].eq_ignore_ascii_case(w))
}

/// A token of server code.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(Vec<u8>),
    Num(Vec<u8>, Option<i64>),
    Str(Vec<u8>),
    Punct(u8),
    Newline,
}

impl Tok {
    fn is_punct(&self, c: u8) -> bool {
        matches!(self, Tok::Punct(p) if *p == c)
    }
    fn ident(&self) -> Option<&[u8]> {
        match self {
            Tok::Ident(s) => Some(s),
            _ => None,
        }
    }
    fn is_ident(&self, name: &[u8]) -> bool {
        self.ident().is_some_and(|s| s.eq_ignore_ascii_case(name))
    }
}

/// Normalises one region of server code into `out`.
fn code(src: &[u8], lang: Lang, out: &mut Vec<u8>, budget: usize) {
    let toks = lex(src, lang);
    let toks = fold(toks, lang, true);
    // What the tokens take when written out is at most `src.len()`: the rest is for inlining.
    let toks = inline(toks, lang, budget.saturating_sub(out.len() + src.len()));
    let toks = fold(toks, lang, false);
    emit(&toks, out);
}

fn lex(s: &[u8], lang: Lang) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut i = 0;
    let n = s.len();
    let mut line_start = true;
    while i < n {
        let c = s[i];
        match c {
            b'\n' | b'\r' => {
                if lang == Lang::Vb && !matches!(toks.last(), Some(Tok::Newline) | None) {
                    toks.push(Tok::Newline);
                }
                line_start = true;
                i += 1;
                continue;
            }
            b' ' | b'\t' | 0x0b | 0x0c => {
                i += 1;
                continue;
            }
            _ => {}
        }
        let at_line_start = line_start;
        line_start = false;
        if lang != Lang::Vb && c == b'/' && s.get(i + 1) == Some(&b'/') {
            i = memchr(b'\n', &s[i..]).map_or(n, |e| i + e);
            continue;
        }
        if lang != Lang::Vb && c == b'/' && s.get(i + 1) == Some(&b'*') {
            i = memfind(&s[i + 2..], b"*/").map_or(n, |e| i + 2 + e + 2);
            continue;
        }
        if lang == Lang::Vb && c == b'\'' {
            i = memchr(b'\n', &s[i..]).map_or(n, |e| i + e);
            continue;
        }
        if lang == Lang::Vb
            && (at_line_start || toks.last().is_some_and(|t| t.is_punct(b':')))
            && s.len() >= i + 4
            && s[i..i + 3].eq_ignore_ascii_case(b"rem")
            && matches!(s[i + 3], b' ' | b'\t' | b'\r' | b'\n')
        {
            i = memchr(b'\n', &s[i..]).map_or(n, |e| i + e);
            continue;
        }
        if lang == Lang::Vb && c == b'_' && next_is_newline(&s[i + 1..]) {
            // Line continuation: the statement goes on.
            i = memchr(b'\n', &s[i..]).map_or(n, |e| i + e + 1);
            line_start = false;
            continue;
        }
        if c == b'"' || (c == b'\'' && lang != Lang::Vb) {
            let (lit, next) = string_literal(s, i, lang, false);
            toks.push(Tok::Str(lit));
            i = next;
            continue;
        }
        if c == b'@' && lang == Lang::CSharp && s.get(i + 1) == Some(&b'"') {
            let (lit, next) = string_literal(s, i + 1, lang, true);
            toks.push(Tok::Str(lit));
            i = next;
            continue;
        }
        if c.is_ascii_digit()
            || (lang == Lang::Vb && c == b'&' && matches!(s.get(i + 1), Some(b'h' | b'H')))
        {
            let start = i;
            let (value, next) = number(s, i, lang);
            toks.push(Tok::Num(s[start..next].to_vec(), value));
            i = next;
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' || c == b'$' {
            let start = i;
            while i < n && (s[i].is_ascii_alphanumeric() || s[i] == b'_' || s[i] == b'$') {
                i += 1;
            }
            let mut word = s[start..i].to_vec();
            if lang == Lang::Vb {
                word.make_ascii_lowercase();
            }
            toks.push(Tok::Ident(word));
            continue;
        }
        toks.push(Tok::Punct(c));
        i += 1;
    }
    toks
}

fn next_is_newline(s: &[u8]) -> bool {
    s.iter()
        .find(|c| !matches!(c, b' ' | b'\t'))
        .is_none_or(|c| matches!(c, b'\r' | b'\n'))
}

/// Decodes the string literal whose quote is at `s[i]`; returns its content and the index after it.
fn string_literal(s: &[u8], i: usize, lang: Lang, verbatim: bool) -> (Vec<u8>, usize) {
    let q = s[i];
    let mut out = Vec::new();
    let mut j = i + 1;
    while j < s.len() {
        let c = s[j];
        if c == q {
            if (verbatim || lang == Lang::Vb) && s.get(j + 1) == Some(&q) {
                out.push(q);
                j += 2;
                continue;
            }
            return (out, j + 1);
        }
        if (c == b'\n' || c == b'\r') && !verbatim {
            return (out, j); // unterminated: ends at the line break
        }
        if c == b'\\' && lang != Lang::Vb && !verbatim && j + 1 < s.len() {
            let e = s[j + 1];
            j += 2;
            let (max, radix) = match e {
                b'x' => (if lang == Lang::JScript { 2 } else { 4 }, 16),
                b'u' => (4, 16),
                _ => (0, 0),
            };
            if radix != 0 {
                let digits = s[j..]
                    .iter()
                    .take(max)
                    .take_while(|d| d.is_ascii_hexdigit())
                    .count();
                if digits > 0 {
                    let v = std::str::from_utf8(&s[j..j + digits])
                        .ok()
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                        .unwrap_or(0);
                    push_char(&mut out, v);
                    j += digits;
                    continue;
                }
            }
            out.push(match e {
                b'n' => b'\n',
                b't' => b'\t',
                b'r' => b'\r',
                b'0' => 0,
                other => other,
            });
            continue;
        }
        out.push(c);
        j += 1;
    }
    (out, s.len())
}

fn push_char(out: &mut Vec<u8>, code: u32) {
    let ch = char::from_u32(code).unwrap_or('\u{FFFD}');
    let mut buf = [0u8; 4];
    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
}

fn number(s: &[u8], i: usize, lang: Lang) -> (Option<i64>, usize) {
    let mut j = i;
    let vb_hex = lang == Lang::Vb && s[i] == b'&';
    let c_hex = s[i] == b'0' && matches!(s.get(i + 1), Some(b'x' | b'X'));
    let (radix, start) = if vb_hex || c_hex {
        (16, i + 2)
    } else {
        (10, i)
    };
    j = j.max(start);
    while j < s.len() && s[j].is_ascii_hexdigit() && (radix == 16 || s[j].is_ascii_digit()) {
        j += 1;
    }
    let value = std::str::from_utf8(&s[start..j])
        .ok()
        .and_then(|d| i64::from_str_radix(d, radix).ok());
    // Suffixes and fractions (`1.5`, `10L`, `&HFF&`): the number is not a plain integer.
    let mut k = j;
    while k < s.len() && (s[k].is_ascii_alphanumeric() || s[k] == b'.' || s[k] == b'&') {
        k += 1;
    }
    let plain = k == j || (lang == Lang::Vb && k == j + 1 && s[j] == b'&');
    (value.filter(|_| plain), k)
}

/// Replaces constant character codes by strings and joins adjacent strings; with `base64`
/// (the first pass only, so that nothing is decoded twice), decodes base64 literals of text.
fn fold(toks: Vec<Tok>, lang: Lang, base64: bool) -> Vec<Tok> {
    let mut out: Vec<Tok> = Vec::with_capacity(toks.len());
    let mut i = 0;
    while i < toks.len() {
        if let Some((s, next)) = char_code(&toks, i, &out, lang) {
            // `String.fromCharCode` and `Convert.ToChar`: drop the receiver already written.
            if matches!(out.last(), Some(Tok::Punct(b'.')))
                && out.len() >= 2
                && out[out.len() - 2].ident().is_some()
            {
                out.truncate(out.len() - 2);
            }
            push_str(&mut out, s, lang);
            i = next;
            continue;
        }
        if let Some(text) = base64_literal(&toks, i).filter(|_| base64) {
            // `FromBase64String("UmVx…")` reads `FromBase64String("Request…")`.
            out.push(toks[i].clone());
            out.push(toks[i + 1].clone());
            out.push(Tok::Str(text));
            i += 3;
            continue;
        }
        if let Some((s, next)) = concat_call(&toks, i) {
            if matches!(out.last(), Some(Tok::Punct(b'.')))
                && out.len() >= 2
                && out[out.len() - 2].is_ident(b"string")
            {
                out.truncate(out.len() - 2);
            }
            push_str(&mut out, s, lang);
            i = next;
            continue;
        }
        if let Tok::Str(s) = &toks[i] {
            push_str(&mut out, s.clone(), lang);
            i += 1;
            continue;
        }
        out.push(toks[i].clone());
        i += 1;
    }
    out
}

/// Pushes a string, joining it to a preceding `"…" +` (or `&` in VB).
fn push_str(out: &mut Vec<Tok>, s: Vec<u8>, lang: Lang) {
    let n = out.len();
    if n >= 2 {
        let joiner = matches!(out[n - 1], Tok::Punct(b'+'))
            || (lang == Lang::Vb && matches!(out[n - 1], Tok::Punct(b'&')));
        // Not `x + "a"` where `x` might be a number: only a string on the left joins.
        let before_left = n.checked_sub(3).map(|k| &out[k]);
        let left_starts_sum =
            !before_left.is_some_and(|t| matches!(t, Tok::Punct(b'-' | b'*' | b'/' | b'%')));
        if joiner && left_starts_sum {
            if let Tok::Str(left) = &mut out[n - 2] {
                left.extend_from_slice(&s);
                out.pop();
                return;
            }
        }
    }
    out.push(Tok::Str(s));
}

/// A character-code call with a constant argument starting at `toks[i]`:
/// `Chr(n)`/`ChrW(n)`/`ChrB(n)`/`Char(n)`, `fromCharCode(n, …)`, `ToChar(n)`, `(char)n`.
fn char_code(toks: &[Tok], i: usize, out: &[Tok], _lang: Lang) -> Option<(Vec<u8>, usize)> {
    let t = &toks[i];
    let prev_dot = matches!(out.last(), Some(Tok::Punct(b'.')));
    if t.is_punct(b'(')
        && toks.get(i + 1).is_some_and(|t| t.is_ident(b"char"))
        && toks.get(i + 2).is_some_and(|t| t.is_punct(b')'))
    {
        // (char)N or (char)(expr)
        let (v, next) = match toks.get(i + 3)? {
            Tok::Num(_, Some(v)) => (*v, i + 4),
            Tok::Punct(b'(') => {
                let (v, close) = int_expr(toks, i + 4)?;
                toks.get(close).filter(|t| t.is_punct(b')'))?;
                (v, close + 1)
            }
            _ => return None,
        };
        return Some((char_bytes(v)?, next));
    }
    let name = t.ident()?;
    let lower = name.to_ascii_lowercase();
    let multi = match lower.as_slice() {
        b"chr" | b"chrw" | b"chrb" | b"char" if !prev_dot => false,
        b"chr" | b"chrw" => false, // Strings.Chr
        b"fromcharcode" if prev_dot => true,
        b"tochar" if prev_dot => false,
        _ => return None,
    };
    if !toks.get(i + 1)?.is_punct(b'(') {
        return None;
    }
    let mut s = Vec::new();
    let mut j = i + 2;
    loop {
        let (v, next) = int_expr(toks, j)?;
        s.extend_from_slice(&char_bytes(v)?);
        match toks.get(next)? {
            Tok::Punct(b')') => return Some((s, next + 1)),
            Tok::Punct(b',') if multi => j = next + 1,
            _ => return None,
        }
    }
}

fn char_bytes(v: i64) -> Option<Vec<u8>> {
    let v = u32::try_from(v).ok()?;
    let mut out = Vec::new();
    push_char(&mut out, char::from_u32(v).map(|_| v)?);
    Some(out)
}

/// At `toks[i]`: `FromBase64String(` or `atob(` followed by a string literal whose base64
/// decodes to text (UTF-8, no control characters but whitespace): that text.
fn base64_literal(toks: &[Tok], i: usize) -> Option<Vec<u8>> {
    let name = toks[i].ident()?;
    if !(name.eq_ignore_ascii_case(b"frombase64string") || name.eq_ignore_ascii_case(b"atob")) {
        return None;
    }
    if !toks.get(i + 1)?.is_punct(b'(') {
        return None;
    }
    let Tok::Str(lit) = toks.get(i + 2)? else {
        return None;
    };
    let text = base64_decode(lit)?;
    let ok = std::str::from_utf8(&text)
        .is_ok_and(|t| !t.is_empty() && t.chars().all(|c| !c.is_control() || c.is_whitespace()));
    ok.then_some(text)
}

/// Standard base64 (padding optional, whitespace ignored); `None` when it is not base64.
fn base64_decode(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    let mut pad = false;
    for &c in s {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                pad = true;
                continue;
            }
            b' ' | b'\t' | b'\r' | b'\n' => continue,
            _ => return None,
        };
        if pad {
            return None; // data after padding
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// `Concat("a", "b", …)` (of `String.Concat`) whose arguments are all strings.
fn concat_call(toks: &[Tok], i: usize) -> Option<(Vec<u8>, usize)> {
    if !toks[i].is_ident(b"concat") || !toks.get(i + 1)?.is_punct(b'(') {
        return None;
    }
    let mut s = Vec::new();
    let mut j = i + 2;
    loop {
        match toks.get(j)? {
            Tok::Str(x) => s.extend_from_slice(x),
            _ => return None,
        }
        match toks.get(j + 1)? {
            Tok::Punct(b')') => return Some((s, j + 2)),
            Tok::Punct(b',') => j += 2,
            _ => return None,
        }
    }
}

/// A constant integer expression at `toks[i..]` (stops before `)` or `,` at depth 0): its value
/// and the index of the token after it.
fn int_expr(toks: &[Tok], i: usize) -> Option<(i64, usize)> {
    let end = (i + MAX_EXPR_TOKENS).min(toks.len());
    let mut p = ExprParser {
        toks: &toks[..end],
        pos: i,
    };
    let v = p.sum(0)?;
    match p.toks.get(p.pos) {
        Some(Tok::Punct(b')' | b',')) => Some((v, p.pos)),
        _ => None,
    }
}

struct ExprParser<'t> {
    toks: &'t [Tok],
    pos: usize,
}

impl ExprParser<'_> {
    fn sum(&mut self, depth: u32) -> Option<i64> {
        let mut v = self.product(depth)?;
        loop {
            match self.toks.get(self.pos) {
                Some(Tok::Punct(b'+')) => {
                    self.pos += 1;
                    v = v.checked_add(self.product(depth)?)?;
                }
                Some(Tok::Punct(b'-')) => {
                    self.pos += 1;
                    v = v.checked_sub(self.product(depth)?)?;
                }
                _ => return Some(v),
            }
        }
    }
    fn product(&mut self, depth: u32) -> Option<i64> {
        let mut v = self.atom(depth)?;
        loop {
            let op = match self.toks.get(self.pos) {
                Some(Tok::Punct(c @ (b'*' | b'/' | b'%'))) => *c,
                Some(Tok::Ident(w)) if w.eq_ignore_ascii_case(b"mod") => b'%',
                _ => return Some(v),
            };
            self.pos += 1;
            let r = self.atom(depth)?;
            v = match op {
                b'*' => v.checked_mul(r)?,
                b'/' => v.checked_div(r)?,
                _ => v.checked_rem(r)?,
            };
        }
    }
    fn atom(&mut self, depth: u32) -> Option<i64> {
        if depth > 16 {
            return None;
        }
        match self.toks.get(self.pos)? {
            Tok::Num(_, Some(v)) => {
                self.pos += 1;
                Some(*v)
            }
            Tok::Punct(b'-') => {
                self.pos += 1;
                self.atom(depth + 1)?.checked_neg()
            }
            Tok::Punct(b'+') => {
                self.pos += 1;
                self.atom(depth + 1)
            }
            Tok::Punct(b'(') => {
                self.pos += 1;
                let v = self.sum(depth + 1)?;
                if !self.toks.get(self.pos)?.is_punct(b')') {
                    return None;
                }
                self.pos += 1;
                Some(v)
            }
            _ => None,
        }
    }
}

/// Whether a value carries data from the request or from a server control's text.
fn from_request(rhs: &[Tok]) -> bool {
    rhs.iter().enumerate().any(|(k, t)| {
        t.is_ident(b"request") || (t.is_ident(b"text") && k > 0 && rhs[k - 1].is_punct(b'.'))
    })
}

/// Whether the value of an assignment is worth inlining: for a variable assigned once, a
/// constant string or data from the request (a control's text); for one assigned several times,
/// only data from the request (the variable *may* hold it, which is what a rule asks).
fn inlinable(rhs: &[Tok], once: bool) -> bool {
    if rhs.is_empty() || rhs.len() > MAX_INLINE_TOKENS {
        return false;
    }
    if once {
        matches!(rhs, [Tok::Str(_)]) || from_request(rhs)
    } else {
        request_value(rhs)
    }
}

/// Whether a value holds what the client sent as a value: `Request[..]`, `Request(..)`,
/// `Request.QueryString/Form/Params/Item/Cookies/Headers`, or a control's `.Text` (not the
/// request's paths, files or server variables).
fn request_value(rhs: &[Tok]) -> bool {
    const SELECTORS: &[&[u8]] = &[
        b"querystring",
        b"form",
        b"params",
        b"item",
        b"cookies",
        b"headers",
    ];
    rhs.iter().enumerate().any(|(k, t)| {
        if t.is_ident(b"text") {
            return k > 0 && rhs[k - 1].is_punct(b'.');
        }
        if !t.is_ident(b"request") {
            return false;
        }
        match (rhs.get(k + 1), rhs.get(k + 2)) {
            (Some(Tok::Punct(b'[' | b'(')), _) => true,
            (Some(Tok::Punct(b'.')), Some(Tok::Ident(w))) => {
                SELECTORS.iter().any(|x| w.eq_ignore_ascii_case(x))
            }
            _ => false,
        }
    })
}

/// Inlines variables whose value is [`inlinable`]: a variable assigned several times is replaced
/// by the first value from the request it was given (data flow, not evaluation).
fn inline(toks: Vec<Tok>, lang: Lang, budget: usize) -> Vec<Tok> {
    // How often each name is assigned (`x =`, `x +=`, …, `x++`): only names assigned once
    // have one value.
    let mut assigned: HashMap<&[u8], u32> = HashMap::new();
    for (k, t) in toks.iter().enumerate() {
        if t.ident().is_none() {
            continue;
        }
        let at = target(&toks, k, lang);
        let Some(name) = toks[at].ident() else {
            continue;
        };
        if at > 0 && toks[at - 1].is_punct(b'.') {
            continue;
        }
        let next = toks.get(k + 1);
        let next2 = toks.get(k + 2);
        let assign = match next {
            Some(Tok::Punct(b'=')) => !next2.is_some_and(|t| t.is_punct(b'=')),
            Some(op @ Tok::Punct(b'+' | b'-' | b'*' | b'/' | b'&' | b'|')) => {
                next2.is_some_and(|t| t.is_punct(b'=') || t == op)
            }
            _ => false,
        };
        if assign {
            *assigned.entry(name).or_insert(0) += 1;
        }
    }
    let mut values: HashMap<Vec<u8>, Vec<Tok>> = HashMap::new();
    let mut out: Vec<Tok> = Vec::with_capacity(toks.len());
    let mut grown = 0usize;
    let mut k = 0;
    while k < toks.len() {
        let t = &toks[k];
        if let Some(this) = t.ident() {
            let next_is_assign = toks.get(k + 1).is_some_and(|t| t.is_punct(b'='))
                && !toks.get(k + 2).is_some_and(|t| t.is_punct(b'='));
            // The assigned name: this one, or in VB the one before `As Type =`.
            let at = if next_is_assign {
                target(&toks, k, lang)
            } else {
                k
            };
            let name = toks[at].ident().unwrap_or(this);
            let member = at > 0 && toks[at - 1].is_punct(b'.');
            let count = assigned.get(name).copied().unwrap_or(0);
            if !member && next_is_assign && count >= 1 {
                // Record the value (with the uses inside it already inlined).
                // The value ends at `;`, a VB line break or a block; one longer than
                // MAX_INLINE_TOKENS is not inlined, so the search stops there (linear time).
                let window = &toks[k + 2..toks.len().min(k + 3 + MAX_INLINE_TOKENS)];
                let end = match window.iter().position(|t| {
                    t.is_punct(b';') || *t == Tok::Newline || (lang != Lang::Vb && t.is_punct(b'{'))
                }) {
                    Some(p) => Some(k + 2 + p),
                    None if k + 2 + window.len() == toks.len() => Some(toks.len()),
                    None => None,
                };
                if let Some(end) = end {
                    // Values are counted in bytes against the same budget as the uses: a
                    // value made of earlier values (`b = a + a + …`, `c = b + b + …`) is
                    // folded into one literal, so without it each line multiplied the bytes
                    // held (a 1 KB script, gigabytes), and every name copied its own.
                    let mut rhs = Vec::new();
                    let mut rhs_bytes = 0usize;
                    for u in &toks[k + 2..end] {
                        match u.ident().and_then(|n| values.get(n)) {
                            Some(v)
                                if rhs.len() + v.len() <= MAX_INLINE_TOKENS
                                    && grown + rhs_bytes + bytes_of(v) <= budget =>
                            {
                                rhs_bytes += bytes_of(v);
                                rhs.extend(paren(v))
                            }
                            _ => {
                                rhs_bytes += tok_len(u);
                                rhs.push(u.clone())
                            }
                        }
                    }
                    let rhs = fold(rhs, lang, false);
                    let once = count == 1;
                    let cost = bytes_of(&rhs);
                    if inlinable(&rhs, once)
                        && (once || !values.contains_key(name))
                        && grown + cost <= budget
                    {
                        grown += cost;
                        values.insert(name.to_vec(), rhs);
                    }
                }
                out.push(t.clone());
                k += 1;
                continue;
            }
            if !member && !next_is_assign {
                if let Some(v) = values.get(name) {
                    let cost = bytes_of(v) + 2;
                    if grown + cost <= budget {
                        grown += cost;
                        out.extend(paren(v));
                        k += 1;
                        continue;
                    }
                }
            }
        }
        out.push(t.clone());
        k += 1;
    }
    out
}

/// Bytes the tokens take when emitted (at most).
fn bytes_of(v: &[Tok]) -> usize {
    v.iter().map(tok_len).sum()
}

/// Bytes a token takes when emitted (at most).
fn tok_len(t: &Tok) -> usize {
    match t {
        Tok::Ident(w) | Tok::Num(w, _) => w.len() + 1,
        Tok::Str(s) => s.len() + 2,
        Tok::Punct(_) | Tok::Newline => 1,
    }
}

/// The index of the variable an `=` after `toks[k]` assigns: `k`, or in VB the name before
/// `As [New] Type` (`Dim p As String = …`; the type may be dotted).
fn target(toks: &[Tok], k: usize, lang: Lang) -> usize {
    if lang != Lang::Vb || !toks.get(k + 1).is_some_and(|t| t.is_punct(b'=')) {
        return k;
    }
    let mut j = k;
    while j >= 2 && toks[j - 1].is_punct(b'.') && toks[j - 2].ident().is_some() {
        j -= 2;
    }
    if j >= 1 && toks[j - 1].is_ident(b"new") {
        j -= 1;
    }
    if j >= 2 && toks[j - 1].is_ident(b"as") && toks[j - 2].ident().is_some() {
        j - 2
    } else {
        k
    }
}

/// A value as inlined: a string alone (so that it joins), anything else in parentheses.
fn paren(v: &[Tok]) -> Vec<Tok> {
    if matches!(v, [Tok::Str(_)]) {
        return v.to_vec();
    }
    let mut out = Vec::with_capacity(v.len() + 2);
    out.push(Tok::Punct(b'('));
    out.extend_from_slice(v);
    out.push(Tok::Punct(b')'));
    out
}

fn emit(toks: &[Tok], out: &mut Vec<u8>) {
    let mut prev_word = false;
    for t in toks {
        match t {
            Tok::Ident(w) | Tok::Num(w, _) => {
                if prev_word {
                    out.push(b' ');
                }
                out.extend_from_slice(w);
                prev_word = true;
                continue;
            }
            Tok::Str(s) => {
                out.push(b'"');
                out.extend_from_slice(s);
                out.push(b'"');
            }
            Tok::Punct(c) => out.push(*c),
            Tok::Newline => out.push(b'\n'),
        }
        prev_word = false;
    }
}

/// The text as UTF-8 when it is UTF-16 (BOM, or zero bytes at every other position of its
/// start); otherwise the bytes unchanged.
fn decode(data: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let le = data.starts_with(b"\xFF\xFE");
    let be = data.starts_with(b"\xFE\xFF");
    let sniff = || {
        let n = data.len().min(64) & !1;
        n >= 8 && data[..n].chunks(2).all(|p| p[1] == 0 && p[0] != 0)
    };
    if !(le || be || sniff()) {
        return std::borrow::Cow::Borrowed(data);
    }
    let body = if le || be { &data[2..] } else { data };
    let units = body.chunks_exact(2).map(|p| {
        if be {
            u16::from_be_bytes([p[0], p[1]])
        } else {
            u16::from_le_bytes([p[0], p[1]])
        }
    });
    let s: String = char::decode_utf16(units)
        .map(|c| c.unwrap_or('\u{FFFD}'))
        .collect();
    std::borrow::Cow::Owned(s.into_bytes())
}

fn trim_start(s: &[u8]) -> &[u8] {
    let k = s.iter().take_while(|c| c.is_ascii_whitespace()).count();
    &s[k..]
}

fn memchr(c: u8, s: &[u8]) -> Option<usize> {
    memchr::memchr(c, s)
}

fn memfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    let first = needle[0];
    let mut i = 0;
    while i + needle.len() <= hay.len() {
        let p = memchr(first, &hay[i..=hay.len() - needle.len()])?;
        if hay[i + p..].starts_with(needle) {
            return Some(i + p);
        }
        i += p + 1;
    }
    None
}

fn find_nocase(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, _) = needle.split_first()?;
    if hay.len() < needle.len() {
        return None;
    }
    let last = hay.len() - needle.len();
    let mut i = 0;
    // Jump between the first letter's two cases (memchr2), then compare.
    while i <= last {
        let p = memchr::memchr2(
            first.to_ascii_lowercase(),
            first.to_ascii_uppercase(),
            &hay[i..=last],
        )?;
        if hay[i + p..i + p + needle.len()].eq_ignore_ascii_case(needle) {
            return Some(i + p);
        }
        i += p + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    /// Values made of earlier values, each line 12 times the last: without a byte bound on the
    /// values held, the 9th line held ~500 GB (from a script of ~1 KB); the output stays within
    /// its factor of the input.
    #[test]
    fn chained_values_do_not_multiply() {
        let mut s = String::from("<%\nstring v0 = \"");
        s.push_str(&"x".repeat(100));
        s.push_str("\";\n");
        for i in 1..10 {
            let sum = vec![format!("v{}", i - 1); 12].join(" + ");
            s.push_str(&format!("string v{i} = {sum};\n"));
        }
        s.push_str("Response.Write(v9);\n%>");
        let out = normalize(s.as_bytes());
        assert!(
            out.len() <= s.len() * MAX_OUTPUT_FACTOR + 4096,
            "{}",
            out.len()
        );
    }

    use super::*;

    fn norm(s: &str) -> String {
        String::from_utf8_lossy(&normalize(s.as_bytes())).into_owned()
    }

    #[test]
    fn comments_and_joined_strings() {
        let n = norm(
            r#"<%@ Page Language = Jscript %><%var/*-/*-*/P/*-/*-*/=/*-/*-*/"e"+"v"+/*-/*-*/
"a"+"l"+"("+"R"+"e"+"q"+"u"+"e"+"s"+"t"+"[0]"+","+"\""+"u"+"n"+"s"+"a"+"f"+"e"+"\""+")";eval
(/*-/*-*/P/*-/*-*/,/*-/*-*/"u"+"n"+"s"/*-/*-*/+"a"+"f"+"e"/*-/*-*/);%>"#,
        );
        assert!(
            n.contains(r#"eval(("eval(Request[0],"unsafe")"),"unsafe")"#)
                || n.contains(r#"eval("eval(Request[0],"unsafe")","unsafe")"#),
            "{n}"
        );
    }

    #[test]
    fn char_codes_and_arithmetic() {
        let n = norm(
            r#"<% var a = String.fromCharCode(101, 0x76, 90+7, (216/2)); x = "" + (char)(100+1) + (char)118; %>"#,
        );
        assert!(n.contains(r#"var a="eval""#), "{n}");
        assert!(n.contains(r#"x="ev""#), "{n}");
        let n = norm("<%@ Language=VBScript %><% Execute(Chr(&H65) & ChrW(118) & \"al \" & chr(40 + 2*0)) %>");
        assert!(n.contains("execute(\"eval (\")"), "{n}");
        // no directive: classic ASP's VBScript, told by its words
        let n = norm("<% Execute(Chr(101) & \"val\") %>");
        assert!(n.contains("execute(\"eval\")"), "{n}");
        // not constant: left alone
        let n = norm("<% var s = String.fromCharCode(k + 1); %>");
        assert!(n.contains("fromCharCode(k+1)"), "{n}");
    }

    #[test]
    fn base64_literals_of_text_are_decoded() {
        let n = norm(
            r#"<% var x = System.Text.Encoding.UTF8.GetString(System.Convert.FromBase64String("UmVxdWVzdC5JdGVtWyJ6Il0=")); %>"#,
        );
        assert!(
            n.contains(r#"FromBase64String("Request.Item["z"]")"#),
            "{n}"
        );
        // binary (an image) stays as it is
        let n = norm(r#"<% var img = Convert.FromBase64String("iVBORw0KGgoAAAANSUhEUg=="); %>"#);
        assert!(n.contains("iVBORw0KGgoAAAANSUhEUg=="), "{n}");
    }

    #[test]
    fn vb_comments_concat_and_case() {
        let n = norm(
            "<%\nset ms = server.CreateObject(\"MSScriptControl.ScriptControl.1\") ' the engine\nREM nothing here\nms.ExecuteStatement(\"ev\"&\"al(request(\"\"x\"\"))\")\n%>",
        );
        assert!(
            n.contains("ms.executestatement(\"eval(request(\"x\"))\")"),
            "{n}"
        );
        assert!(!n.contains("engine") && !n.contains("nothing here"), "{n}");
    }

    #[test]
    fn escapes_concat_call_and_server_comment() {
        let n = norm(
            r#"<%-- hidden --%><script runat="server" language="C#">string u = String.Concat("\x75ns", "af\u0065"); // c
</script>"#,
        );
        assert!(n.contains(r#"string u="unsafe";"#), "{n}");
        assert!(!n.contains("hidden") && !n.contains("// c"), "{n}");
    }

    #[test]
    fn request_data_inlined_into_sinks() {
        let n = norm(
            r#"<%@ Page Language="C#" %><% string connstr = Request.QueryString["conn"];
            string sql = Request.QueryString["sql"];
            using (SqlConnection conn = new SqlConnection( connstr )) { SqlCommand cmd = new SqlCommand(sql, conn); } %>"#,
        );
        assert!(
            n.contains(r#"new SqlConnection((Request.QueryString["conn"]))"#),
            "{n}"
        );
        assert!(
            n.contains(r#"new SqlCommand((Request.QueryString["sql"]),"#),
            "{n}"
        );
        // a constant assigned twice is not inlined; request data assigned once of several is
        let n = norm(r#"<% var p = "a"; p = "x"; File.Delete(p); %>"#);
        assert!(n.contains("File.Delete(p)"), "{n}");
        let n = norm(r#"<% var p = Request["p"]; if (p == null) p = "."; File.Delete(p); %>"#);
        assert!(n.contains(r#"File.Delete((Request["p"]))"#), "{n}");
    }

    #[test]
    fn vb_declarations_with_types_are_inlined() {
        let n = norm("<%@ Page Language=\"VB\" %><script runat=\"server\">\nDim p As System.String = Request.QueryString(\"p\")\nFor Each f In Directory.GetFiles(p)\n</script>");
        assert!(
            n.contains("directory.getfiles((request.querystring(\"p\")))"),
            "{n}"
        );
    }

    #[test]
    fn handler_file_is_code_and_utf16_is_decoded() {
        let src = "<%@ WebHandler Language=\"C#\" Class=\"H\" %>\nusing System; /* x */ public class H { void F() { var a = \"c\" + \"md\"; } }";
        let n = norm(src);
        assert!(
            n.contains(r#"var a="cmd";"#) && !n.contains("/* x */"),
            "{n}"
        );
        let mut utf16 = vec![0xFF, 0xFE];
        for u in "<% var a = \"x\" + \"y\"; %>".encode_utf16() {
            utf16.extend_from_slice(&u.to_le_bytes());
        }
        assert!(String::from_utf8_lossy(&normalize(&utf16)).contains(r#"var a="xy";"#));
    }

    /// Benign look-alikes: markup, client-side script and ordinary arithmetic stay as they are.
    #[test]
    fn benign_look_alikes_keep_their_meaning() {
        let page = r#"<html><script type="text/javascript">var url = "http://x/" + "y"; // client</script>
<a href='http://example.com/a'>it's</a><% int total = price * 2 + 1; Response.Write("Total: " + total); %></html>"#;
        let n = norm(page);
        // client-side script and markup are copied unchanged
        assert!(
            n.contains(r#"var url = "http://x/" + "y"; // client"#),
            "{n}"
        );
        assert!(n.contains("<a href='http://example.com/a'>it's</a>"), "{n}");
        assert!(n.contains(r#"Response.Write("Total: "+total)"#), "{n}");
        // a number added to a string is not a character code
        let n = norm(r#"<% var s = "a" + 65; var t = 1 - "b" + "c"; %>"#);
        assert!(n.contains(r#"var s="a"+65;"#), "{n}");
    }

    #[test]
    fn bounded_on_pathological_input() {
        let big = "<% ".to_string() + &"\"a\"+".repeat(200_000) + "\"b\" %>";
        let t = std::time::Instant::now();
        let n = normalize(big.as_bytes());
        assert!(t.elapsed().as_secs() < 10);
        assert!(n.len() < big.len());
        let many =
            "<% var x = Request[\"a\"]; ".to_string() + &"f(x,x,x,x);".repeat(100_000) + "%>";
        let n = normalize(many.as_bytes());
        assert!(n.len() <= many.len() * MAX_OUTPUT_FACTOR + 4096);
        // many assignments with no statement end: each value search is bounded
        let open = "<% ".to_string() + &"a = b ".repeat(300_000) + "%>";
        let t = std::time::Instant::now();
        normalize(open.as_bytes());
        assert!(t.elapsed().as_secs() < 10);
        assert!(!looks_like_server_script(false, b"plain text"));
        assert!(looks_like_server_script(false, b"GIF89a<%eval(x)%>"));
        assert!(looks_like_server_script(
            false,
            b"\x89PNG\r\n\x1a\n\x00\x00 junk <%@ Page Language=\"C#\" %>"
        ));
        assert!(looks_like_server_script(false, b"<form runat=\"server\">"));
        // Random bytes hold `<%` often; binary around it is not a script.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut random = Vec::with_capacity(64 << 10);
        while random.len() < 64 << 10 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            random.extend_from_slice(&x.to_le_bytes());
        }
        random[1000..1002].copy_from_slice(b"<%");
        assert!(memfind(&random, b"<%").is_some());
        assert!(!looks_like_server_script(false, &random));
    }
}
