//! Directory listings for `Options Indexes`: names are HTML-escaped and links
//! percent-encoded; nothing of the filesystem path beyond the URL is shown.
//! Names starting with a dot are never listed (Apache's stock `IndexIgnore .??*`
//! hides them; here every dot-name is hidden, `.` and `..` included: the parent
//! link is written separately).

use crate::http::response::{Body, Response};
use crate::http::route::encode_path;
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
            listed(&name).then_some((name, is_dir))
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

/// Whether a directory entry appears in a listing: not `.`, `..`, `.htpasswd`, `.git`, ...
fn listed(name: &str) -> bool {
    !name.starts_with('.')
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_names_are_not_listed() {
        let table = [
            (".", false),
            ("..", false),
            (".a", false),
            (".hidden", false),
            (".htpasswd", false),
            (".htaccess", false),
            (".git", false),
            ("...", false),
            (". leading space", false),
            ("visible.txt", true),
            ("a.b", true),
            ("trailing.", true),
            ("x..y", true),
            (" .space-first", true),
            ("index.html", true),
        ];
        for (name, want) in table {
            assert_eq!(listed(name), want, "{name:?}");
        }
    }

    #[test]
    fn a_rendered_listing_shows_only_the_visible_names() {
        let dir = std::env::temp_dir().join(format!("oneshot-listing-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join(".git")).unwrap();
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        for f in [".htpasswd", ".hidden", "visible.txt"] {
            std::fs::write(dir.join(f), "x").unwrap();
        }
        let fd: OwnedFd = std::fs::File::open(&dir).unwrap().into();
        let resp = render(fd, "/d/");
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(resp.status, 200);
        let Body::Bytes(html) = resp.body else {
            panic!("listing body is not in memory");
        };
        let html = String::from_utf8(html).unwrap();
        let links: Vec<&str> = html
            .split("<a href=\"")
            .skip(1)
            .filter_map(|r| r.split('"').next())
            .collect();
        assert_eq!(links, ["../", "sub/", "visible.txt"], "{html}");
    }
}
