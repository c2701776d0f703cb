//! The XML of WebDAV requests (RFC 4918 §14): PROPFIND, PROPPATCH and LOCK bodies read into a
//! small tree with quick-xml, under a size limit (`LimitXMLRequestBody`, checked by the caller),
//! a nesting limit and an element limit; a DOCTYPE (and so any entity definition, internal or
//! external) is refused, and only XML's predefined and character references are expanded.
//! Dead property values and lock owners are kept as canonical XML fragments: every element
//! re-declares its own namespace, so a fragment stands alone wherever it is written back.
//! Pure: no I/O.
#![forbid(unsafe_code)]

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

/// The DAV: namespace.
pub const DAV: &str = "DAV:";
/// Deepest element nesting accepted.
pub const MAX_DEPTH: usize = 32;
/// Most elements in one body.
pub const MAX_ELEMENTS: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("malformed XML: {0}")]
    Malformed(String),
    #[error("XML nesting deeper than {MAX_DEPTH}")]
    TooDeep,
    #[error("more than {MAX_ELEMENTS} XML elements")]
    TooMany,
    #[error("a DOCTYPE is not accepted in WebDAV bodies")]
    Doctype,
    #[error("the prefix {0} is not declared")]
    UnknownPrefix(String),
    #[error("expected <{0}> as the root element")]
    WrongRoot(&'static str),
    #[error("{0}")]
    Invalid(&'static str),
}

/// An element name: namespace URI ("" when none) and local name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name {
    pub ns: String,
    pub local: String,
}

impl Name {
    pub fn new(ns: &str, local: &str) -> Name {
        Name {
            ns: ns.to_string(),
            local: local.to_string(),
        }
    }
    pub fn dav(local: &str) -> Name {
        Name::new(DAV, local)
    }
    fn is(&self, ns: &str, local: &str) -> bool {
        self.ns == ns && self.local == local
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Element(Element),
    Text(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub name: Name,
    /// Unprefixed attributes (and `xml:lang`), values unescaped.
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Node>,
}

impl Element {
    fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|c| match c {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }
    fn child(&self, ns: &str, local: &str) -> Option<&Element> {
        self.elements().find(|e| e.name.is(ns, local))
    }
    /// The content as a standalone XML fragment (see the module doc).
    pub fn inner_fragment(&self) -> String {
        let mut out = String::new();
        for c in &self.children {
            write_node(c, &mut out);
        }
        out
    }
}

fn esc(s: &str) -> std::borrow::Cow<'_, str> {
    quick_xml::escape::escape(s)
}

fn write_node(n: &Node, out: &mut String) {
    match n {
        Node::Text(t) => out.push_str(&esc(t)),
        Node::Element(e) => {
            out.push('<');
            out.push_str(&e.name.local);
            out.push_str(&format!(" xmlns=\"{}\"", esc(&e.name.ns)));
            for (k, v) in &e.attrs {
                out.push_str(&format!(" {k}=\"{}\"", esc(v)));
            }
            if e.children.is_empty() {
                out.push_str("/>");
                return;
            }
            out.push('>');
            for c in &e.children {
                write_node(c, out);
            }
            out.push_str(&format!("</{}>", e.name.local));
        }
    }
}

fn bad(e: impl std::fmt::Display) -> XmlError {
    XmlError::Malformed(e.to_string())
}

/// A namespace name as the document means it: quick-xml resolves prefixes to the raw
/// attribute bytes, so references (`&amp;`, `&#x44;`) are expanded here, or a name written
/// back escaped would read differently the next time. A raw `<` is not well-formed XML.
fn namespace(raw: &[u8]) -> Result<String, XmlError> {
    let s = String::from_utf8_lossy(raw);
    if s.contains('<') {
        return Err(XmlError::Malformed("'<' in a namespace name".into()));
    }
    Ok(quick_xml::escape::unescape(&s).map_err(bad)?.into_owned())
}

/// Parses a whole document into its root element.
pub fn parse(body: &[u8]) -> Result<Element, XmlError> {
    let mut r = NsReader::from_reader(body);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    loop {
        let (ns, ev) = r.read_resolved_event().map_err(bad)?;
        let ns = match ns {
            ResolveResult::Bound(n) => Some(namespace(n.0)?),
            ResolveResult::Unbound => Some(String::new()),
            ResolveResult::Unknown(p) => {
                return Err(XmlError::UnknownPrefix(
                    String::from_utf8_lossy(&p).into_owned(),
                ))
            }
        };
        match ev {
            Event::Start(_) | Event::Empty(_) if root.is_some() => {
                return Err(XmlError::Malformed("content after the root element".into()));
            }
            Event::Start(ref s) | Event::Empty(ref s) => {
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(XmlError::TooMany);
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                let local = String::from_utf8_lossy(s.local_name().as_ref()).into_owned();
                let mut attrs = Vec::new();
                for a in s.attributes() {
                    let a = a.map_err(bad)?;
                    let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
                    if key.starts_with("xmlns") || (key.contains(':') && key != "xml:lang") {
                        continue;
                    }
                    let v = a.unescape_value().map_err(bad)?.into_owned();
                    attrs.push((key, v));
                }
                let el = Element {
                    name: Name {
                        ns: ns.unwrap_or_default(),
                        local,
                    },
                    attrs,
                    children: Vec::new(),
                };
                if matches!(ev, Event::Start(_)) {
                    stack.push(el);
                } else {
                    close(&mut stack, &mut root, el);
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or_else(|| bad("unbalanced end tag"))?;
                close(&mut stack, &mut root, el);
            }
            Event::Text(t) => text(&mut stack, &t.xml_content().map_err(bad)?)?,
            Event::CData(t) => text(&mut stack, &t.decode().map_err(bad)?)?,
            Event::GeneralRef(g) => {
                let s = match g.resolve_char_ref().map_err(bad)? {
                    Some(c) => c.to_string(),
                    None => {
                        let name = g.decode().map_err(bad)?;
                        quick_xml::escape::unescape(&format!("&{name};"))
                            .map_err(bad)?
                            .into_owned()
                    }
                };
                text(&mut stack, &s)?;
            }
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(bad("unclosed element"));
    }
    root.ok_or_else(|| bad("no root element"))
}

fn close(stack: &mut [Element], root: &mut Option<Element>, el: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(Node::Element(el)),
        None => *root = Some(el),
    }
}

fn text(stack: &mut [Element], s: &str) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(parent) => {
            if let Some(Node::Text(t)) = parent.children.last_mut() {
                t.push_str(s);
            } else {
                parent.children.push(Node::Text(s.to_string()));
            }
            Ok(())
        }
        None if s.trim().is_empty() => Ok(()),
        None => Err(bad("text outside the root element")),
    }
}

fn root(body: &[u8], local: &'static str) -> Result<Element, XmlError> {
    let r = parse(body)?;
    if r.name.is(DAV, local) {
        Ok(r)
    } else {
        Err(XmlError::WrongRoot(local))
    }
}

/// What a PROPFIND asks for (an empty body is `allprop`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Propfind {
    AllProp,
    PropName,
    Prop(Vec<Name>),
}

pub fn propfind(body: &[u8]) -> Result<Propfind, XmlError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Propfind::AllProp);
    }
    let r = root(body, "propfind")?;
    if r.child(DAV, "allprop").is_some() {
        return Ok(Propfind::AllProp);
    }
    if r.child(DAV, "propname").is_some() {
        return Ok(Propfind::PropName);
    }
    let p = r.child(DAV, "prop").ok_or(XmlError::Invalid(
        "propfind without prop, allprop or propname",
    ))?;
    Ok(Propfind::Prop(
        p.elements().map(|e| e.name.clone()).collect(),
    ))
}

/// One PROPPATCH instruction, in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Patch {
    /// The property and its value as a fragment.
    Set(Name, String),
    Remove(Name),
}

pub fn proppatch(body: &[u8]) -> Result<Vec<Patch>, XmlError> {
    let r = root(body, "propertyupdate")?;
    let mut out = Vec::new();
    for op in r.elements() {
        let set = if op.name.is(DAV, "set") {
            true
        } else if op.name.is(DAV, "remove") {
            false
        } else {
            continue;
        };
        for prop in op.elements().filter(|e| e.name.is(DAV, "prop")) {
            for p in prop.elements() {
                out.push(if set {
                    Patch::Set(p.name.clone(), p.inner_fragment())
                } else {
                    Patch::Remove(p.name.clone())
                });
            }
        }
    }
    if out.is_empty() {
        return Err(XmlError::Invalid("propertyupdate without properties"));
    }
    Ok(out)
}

/// A LOCK body: scope, and the owner as a fragment. `None` for an empty body (a refresh).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockInfo {
    pub exclusive: bool,
    pub owner: Option<String>,
}

pub fn lockinfo(body: &[u8]) -> Result<Option<LockInfo>, XmlError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let r = root(body, "lockinfo")?;
    let scope = r
        .child(DAV, "lockscope")
        .ok_or(XmlError::Invalid("lockinfo without lockscope"))?;
    let exclusive = if scope.child(DAV, "exclusive").is_some() {
        true
    } else if scope.child(DAV, "shared").is_some() {
        false
    } else {
        return Err(XmlError::Invalid(
            "lockscope is neither exclusive nor shared",
        ));
    };
    let ty = r
        .child(DAV, "locktype")
        .ok_or(XmlError::Invalid("lockinfo without locktype"))?;
    if ty.child(DAV, "write").is_none() {
        return Err(XmlError::Invalid("only write locks exist"));
    }
    let owner = r.child(DAV, "owner").map(Element::inner_fragment);
    Ok(Some(LockInfo { exclusive, owner }))
}

/// `<local xmlns="ns">` for a property name in a response.
pub fn open_tag(n: &Name) -> String {
    format!("<{} xmlns=\"{}\">", n.local, esc(&n.ns))
}

pub fn close_tag(n: &Name) -> String {
    format!("</{}>", n.local)
}

pub fn empty_tag(n: &Name) -> String {
    format!("<{} xmlns=\"{}\"/>", n.local, esc(&n.ns))
}

/// Escaped text content.
pub fn text_content(s: &str) -> String {
    esc(s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn propfind_table() {
        let cases: &[(&str, Result<Propfind, XmlError>)] = &[
            ("", Ok(Propfind::AllProp)),
            ("<?xml version=\"1.0\"?><D:propfind xmlns:D=\"DAV:\"><D:allprop/></D:propfind>", Ok(Propfind::AllProp)),
            ("<propfind xmlns=\"DAV:\"><propname/></propfind>", Ok(Propfind::PropName)),
            (
                "<D:propfind xmlns:D=\"DAV:\"><D:prop><D:getetag/><x:a xmlns:x=\"urn:x\"/><b xmlns=\"\"/></D:prop></D:propfind>",
                Ok(Propfind::Prop(vec![Name::dav("getetag"), Name::new("urn:x", "a"), Name::new("", "b")])),
            ),
            ("<D:propfind xmlns:D=\"DAV:\"><D:prop>", Err(XmlError::Malformed(String::new()))),
            ("<propfind><allprop/></propfind>", Err(XmlError::WrongRoot("propfind"))),
            ("<x:propfind/>", Err(XmlError::UnknownPrefix("x".into()))),
            ("<!DOCTYPE d [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><propfind xmlns=\"DAV:\">&e;</propfind>", Err(XmlError::Doctype)),
            ("<propfind xmlns=\"DAV:\"><prop>&e;</prop></propfind>", Err(XmlError::Malformed(String::new()))),
            ("<propfind xmlns=\"DAV:\"/><propfind xmlns=\"DAV:\"/>", Err(XmlError::Malformed(String::new()))),
        ];
        for (body, want) in cases {
            let got = propfind(body.as_bytes());
            match (want, &got) {
                (Err(XmlError::Malformed(_)), Err(XmlError::Malformed(_))) => {}
                _ => assert_eq!(&got, want, "{body}"),
            }
        }
    }

    #[test]
    fn depth_and_count_limits() {
        let deep = format!(
            "{}{}",
            "<a>".repeat(MAX_DEPTH + 1),
            "</a>".repeat(MAX_DEPTH + 1)
        );
        assert_eq!(parse(deep.as_bytes()), Err(XmlError::TooDeep));
        let ok = format!("{}{}", "<a>".repeat(MAX_DEPTH), "</a>".repeat(MAX_DEPTH));
        assert!(parse(ok.as_bytes()).is_ok());
        let many = format!("<a>{}</a>", "<b/>".repeat(MAX_ELEMENTS));
        assert_eq!(parse(many.as_bytes()), Err(XmlError::TooMany));
    }

    /// Found by the dav_xml fuzz target: namespace names came back raw from quick-xml and
    /// were escaped once more each time a kept fragment was written and read again.
    #[test]
    fn namespace_names_are_read_as_the_document_means_them() {
        let el = parse(b"<a xmlns=\"urn:x?p=1&amp;q=&#x32;\"/>").unwrap();
        assert_eq!(el.name.ns, "urn:x?p=1&q=2");
        let el = parse(b"<Z:a xmlns:Z=\"&#x44;AV:\"/>").unwrap();
        assert_eq!(el.name.ns, "DAV:");
        assert!(matches!(
            parse(b"<a xmlns=\"ht <!x\"/>"),
            Err(XmlError::Malformed(_))
        ));
        let body = "<D:propertyupdate xmlns:D=\"DAV:\" xmlns:Z=\"urn:a&amp;b\">\
<D:set><D:prop><Z:p><Z:b>x</Z:b></Z:p></D:prop></D:set></D:propertyupdate>";
        let ops = proppatch(body.as_bytes()).unwrap();
        let Patch::Set(_, v) = &ops[0] else {
            panic!("{ops:?}")
        };
        assert_eq!(v, "<b xmlns=\"urn:a&amp;b\">x</b>");
        let again = parse(format!("<v xmlns=\"urn:f\">{v}</v>").as_bytes()).unwrap();
        assert_eq!(&again.inner_fragment(), v);
    }

    #[test]
    fn proppatch_keeps_values_as_standalone_fragments() {
        let body = "<?xml version=\"1.0\"?>\
<D:propertyupdate xmlns:D=\"DAV:\" xmlns:Z=\"http://ns.example.com/z/\">\
<D:set><D:prop><Z:Author>Jim &amp; &#x10000; <Z:b>x</Z:b></Z:Author><n xmlns=\"\">v</n></D:prop></D:set>\
<D:remove><D:prop><Z:Copyright-Owner/></D:prop></D:remove></D:propertyupdate>";
        assert_eq!(
            proppatch(body.as_bytes()).unwrap(),
            vec![
                Patch::Set(
                    Name::new("http://ns.example.com/z/", "Author"),
                    "Jim &amp; \u{10000} <b xmlns=\"http://ns.example.com/z/\">x</b>".into()
                ),
                Patch::Set(Name::new("", "n"), "v".into()),
                Patch::Remove(Name::new("http://ns.example.com/z/", "Copyright-Owner")),
            ]
        );
        assert!(proppatch(b"<propertyupdate xmlns=\"DAV:\"/>").is_err());
    }

    #[test]
    fn lockinfo_table() {
        assert_eq!(lockinfo(b" \r\n").unwrap(), None);
        let b = "<D:lockinfo xmlns:D='DAV:'><D:lockscope><D:exclusive/></D:lockscope>\
<D:locktype><D:write/></D:locktype><D:owner><D:href>http://example.org/~ejw</D:href></D:owner></D:lockinfo>";
        assert_eq!(
            lockinfo(b.as_bytes()).unwrap(),
            Some(LockInfo {
                exclusive: true,
                owner: Some("<href xmlns=\"DAV:\">http://example.org/~ejw</href>".into())
            })
        );
        let shared = "<lockinfo xmlns='DAV:'><lockscope><shared/></lockscope><locktype><write/></locktype></lockinfo>";
        assert_eq!(
            lockinfo(shared.as_bytes()).unwrap(),
            Some(LockInfo {
                exclusive: false,
                owner: None
            })
        );
        assert!(
            lockinfo(b"<lockinfo xmlns='DAV:'><locktype><write/></locktype></lockinfo>").is_err()
        );
    }
}
