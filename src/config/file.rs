//! Reading a file the configuration names (an `Include`, a map or password file, `TypesConfig`,
//! a certificate or key): only a regular file, or `/dev/null` as Apache allows, and never more
//! than [`MAX_BYTES`].
//!
//! Why: `std::fs::read` on a FIFO blocks until a writer comes (`-t` and a reload hang, and the
//! master's loop with them), and on `/dev/zero` reads until memory runs out. Apache's
//! `ap_pcfg_openfile` refuses anything but a regular file for the same reason. The file is opened
//! with `O_NONBLOCK`, so even opening a FIFO does not wait, and checked with `fstat` on the open
//! descriptor, so a rename between the check and the read cannot swap the file.
#![forbid(unsafe_code)]

use std::fs::OpenOptions;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// No configuration input is this large; Debian's /etc/mime.types is 60 KiB.
pub const MAX_BYTES: u64 = 64 << 20;

/// The whole content of the regular file at `path`; `/dev/null` reads as empty.
pub fn read_regular(path: &Path) -> io::Result<Vec<u8>> {
    if path == Path::new("/dev/null") {
        return Ok(Vec::new());
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (a FIFO, device or directory is never read as configuration)",
        ));
    }
    if meta.len() > MAX_BYTES {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // A file that grows while it is read is still cut at the bound.
    file.take(MAX_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(too_large());
    }
    Ok(bytes)
}

/// [`read_regular`] for a text file: not valid UTF-8 is an error.
pub fn read_regular_string(path: &Path) -> io::Result<String> {
    String::from_utf8(read_regular(path)?)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.utf8_error()))
}

fn too_large() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("larger than {} MiB", MAX_BYTES >> 20),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn scratch(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("oneshot-file-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_regular_file_is_read_whole() {
        let d = scratch("regular");
        let p = d.join("a.conf");
        std::fs::write(&p, "Listen 80\n").unwrap();
        assert_eq!(read_regular_string(&p).unwrap(), "Listen 80\n");
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn dev_null_is_empty_and_other_devices_are_refused() {
        assert_eq!(read_regular(Path::new("/dev/null")).unwrap(), b"");
        let e = read_regular(Path::new("/dev/zero")).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }

    #[test]
    fn a_fifo_is_refused_at_once() {
        let d = scratch("fifo");
        let p = d.join("inc.conf");
        let st = std::process::Command::new("mkfifo")
            .arg(&p)
            .status()
            .unwrap();
        assert!(st.success());
        let t = Instant::now();
        let e = read_regular(&p).unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(2));
        assert!(e.to_string().contains("not a regular file"), "{e}");
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn a_directory_is_refused() {
        let e = read_regular(Path::new("/")).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }

    #[test]
    fn invalid_utf8_is_an_error_for_text() {
        let d = scratch("utf8");
        let p = d.join("b");
        std::fs::write(&p, b"\xff\xfe").unwrap();
        assert!(read_regular(&p).is_ok());
        assert_eq!(
            read_regular_string(&p).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        std::fs::remove_dir_all(d).unwrap();
    }
}
