//! Directory listings for `Options Indexes`: names are HTML-escaped and links
//! percent-encoded; nothing of the filesystem path beyond the URL is shown.

use crate::child::respond::{Body, Response};
use crate::child::route::encode_path;
use std::os::fd::{IntoRawFd, OwnedFd};

pub fn render(dir: OwnedFd, url_dir: &str) -> Response {
    let Ok(mut d) = nix::dir::Dir::from_fd(dir.into_raw_fd()) else {
        return Response::error(403);
    };
    let mut names: Vec<(String, bool)> = d
        .iter()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_str().ok()?.to_string();
            let is_dir = matches!(e.file_type(), Some(nix::dir::Type::Directory));
            (name != "." && name != "..").then_some((name, is_dir))
        })
        .collect();
    names.sort();
    let base = if url_dir.ends_with('/') {
        url_dir.to_string()
    } else {
        format!("{url_dir}/")
    };
    let title = escape(&base);
    let mut html = format!("<!DOCTYPE html>\n<html><head><title>Index of {title}</title></head>\n<body><h1>Index of {title}</h1>\n<ul>\n");
    if base != "/" {
        html.push_str("<li><a href=\"../\">../</a></li>\n");
    }
    for (name, is_dir) in names {
        let slash = if is_dir { "/" } else { "" };
        html.push_str(&format!(
            "<li><a href=\"{}{slash}\">{}{slash}</a></li>\n",
            encode_path(&name).replace('"', "%22"),
            escape(&name)
        ));
    }
    html.push_str("</ul></body></html>\n");
    Response::new(200)
        .header("Content-Type", "text/html; charset=utf-8")
        .body(Body::Bytes(html.into_bytes()))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}
