//! What the host checks before it keeps what a source answered: that an image is one, and
//! that time-synced lyrics are LRC.

/// The MIME type `bytes` are, by their signature; `None` for anything but the image
/// formats players show (JPEG, PNG, GIF, WebP).
pub fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// A time tag's milliseconds: `[mm:ss]`, `[mm:ss.x]`, `[mm:ss.xx]`, `[mm:ss.xxx]` (or
/// with `:` before the fraction), minutes of any length.
fn time_tag(tag: &str) -> Option<u64> {
    let (minutes, rest) = tag.split_once(':')?;
    let (seconds, fraction) = match rest.find(['.', ':']) {
        Some(at) => (&rest[..at], Some(&rest[at + 1..])),
        None => (rest, None),
    };
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    if !(digits(minutes) && digits(seconds) && seconds.len() == 2) {
        return None;
    }
    let seconds: u64 = seconds.parse().ok()?;
    if seconds >= 60 {
        return None;
    }
    let millis = match fraction {
        None => 0,
        Some(f) if digits(f) && f.len() <= 3 => {
            let n: u64 = f.parse().ok()?;
            n * 10u64.pow(3 - f.len() as u32)
        }
        Some(_) => return None,
    };
    Some(minutes.parse::<u64>().ok()? * 60_000 + seconds * 1000 + millis)
}

/// Checks that `text` is time-synced LRC: every non-empty line is an ID tag (`[ar:…]`)
/// or starts with one or more time tags, at least one line is timed, and no time lies
/// past the track's end (`duration_ms`, with ten seconds' grace). The error says which
/// line is wrong.
pub fn check_lrc(text: &str, duration_ms: Option<u64>) -> Result<(), String> {
    let mut timed = 0usize;
    for (n, line) in text.lines().enumerate() {
        let mut rest = line.trim();
        if rest.is_empty() {
            continue;
        }
        let mut tags = 0;
        while let Some(body) = rest.strip_prefix('[') {
            let Some(end) = body.find(']') else {
                return Err(format!("line {}: an unclosed tag", n + 1));
            };
            let tag = &body[..end];
            match time_tag(tag) {
                Some(ms) => {
                    if let Some(len) = duration_ms
                        && ms > len + 10_000
                    {
                        return Err(format!(
                            "line {}: [{tag}] is past the track's end ({} s)",
                            n + 1,
                            len / 1000
                        ));
                    }
                    tags += 1;
                }
                // An ID tag (`ar`, `ti`, `offset`, …) on a line of its own.
                None if tags == 0
                    && tag.split_once(':').is_some_and(|(k, _)| {
                        !k.is_empty() && k.chars().all(|c| c.is_ascii_alphabetic())
                    }) =>
                {
                    rest = "";
                    tags = usize::MAX;
                    break;
                }
                None => return Err(format!("line {}: [{tag}] is not a time tag", n + 1)),
            }
            rest = body[end + 1..].trim_start();
        }
        match tags {
            0 => return Err(format!("line {} has no time tag: {:?}", n + 1, line.trim())),
            usize::MAX => {}
            _ => timed += 1,
        }
    }
    if timed == 0 {
        return Err("no line has a time tag".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_known_by_their_signature() {
        assert_eq!(image_type(&[0xFF, 0xD8, 0xFF, 0xE0, 0]), Some("image/jpeg"));
        assert_eq!(image_type(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(image_type(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(image_type(b"<html>Not Found</html>"), None);
        assert_eq!(image_type(b""), None);
    }

    #[test]
    fn lrc_with_id_tags_repeats_and_every_fraction_passes() {
        let lrc = "[ar:Band]\n[ti:Song]\n\n[00:01.00] one\n[00:02][00:30.5]chorus\n[01:02.345] three\n[01:05.00] ";
        assert_eq!(check_lrc(lrc, Some(70_000)), Ok(()));
    }

    #[test]
    fn what_is_not_lrc_says_where() {
        let plain = "just words\nmore words";
        assert!(check_lrc(plain, None).unwrap_err().contains("line 1"));
        assert!(
            check_lrc("[ar:Only tags]", None)
                .unwrap_err()
                .contains("no line")
        );
        assert!(check_lrc("[00:61.00] bad seconds", None).is_err());
        assert!(
            check_lrc("[00:01.00 unclosed", None)
                .unwrap_err()
                .contains("unclosed")
        );
        let late = check_lrc("[09:00.00] late", Some(60_000)).unwrap_err();
        assert!(late.contains("past the track's end"), "{late}");
    }
}
