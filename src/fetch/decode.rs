//! `--compressed`: a gzip or deflate body decoded as it streams. The input
//! goes in bounded steps, so a small body that inflates enormously (a
//! "zip bomb") comes out, and meets `--max-filesize`, a piece at a time:
//! one step of [`STEP`] input bytes makes at most about a thousand times
//! as much (deflate's largest ratio).
//!
//! A gzip body may hold several members one after another (RFC 1952
//! §2.2; `gzip -c a b` makes one): each is decoded, in order. A `deflate`
//! body is meant to be zlib (RFC 9110 §8.4.1.2), but some servers send
//! raw deflate without the zlib header, as browsers accept: the first two
//! bytes tell which.

use std::io::Write;

use flate2::write::{DeflateDecoder, MultiGzDecoder, ZlibDecoder};

use tcpkit_wire::Bytes;

use crate::error::Error;
use crate::setting::Setting;

/// Input bytes decoded per step.
const STEP: usize = 1024;

/// A Content-Encoding fetch decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Gzip,
    Deflate,
}

impl Coding {
    /// What `Accept-Encoding` offers with `--compressed`.
    pub const ACCEPTED: &'static str = "gzip, deflate";

    /// The coding a Content-Encoding value names: `Ok(None)` for none
    /// (absent or `identity`), an error naming one fetch cannot decode.
    pub fn of(content_encoding: Option<&str>) -> Result<Option<Coding>, Error> {
        let Some(value) = content_encoding else {
            return Ok(None);
        };
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "identity" => Ok(None),
            "gzip" | "x-gzip" => Ok(Some(Coding::Gzip)),
            "deflate" => Ok(Some(Coding::Deflate)),
            other => Err(Error::protocol(crate::words!(
                "the body is encoded as {} (Content-Encoding), which fetch cannot decode \
                 although only {} was offered; without {} it is saved as sent",
                tcpkit_wire::Escaped(other.as_bytes()),
                Coding::ACCEPTED,
                Setting::Compressed
            ))),
        }
    }
}

/// A streaming decoder; its output is taken after each step.
pub struct Decoder {
    coding: Coding,
    inner: Inner,
    /// The output while there is no decoder yet: always empty.
    empty: Vec<u8>,
}

enum Inner {
    Gzip(MultiGzDecoder<Vec<u8>>),
    /// `deflate` before its first two bytes say zlib or raw.
    Sniffing(Vec<u8>),
    Zlib(ZlibDecoder<Vec<u8>>),
    Raw(DeflateDecoder<Vec<u8>>),
}

/// A zlib header: compression method 8 (deflate), a window of at most
/// 32 KiB, and a check that makes the two bytes a multiple of 31 (RFC
/// 1950 §2.2). A raw deflate stream's first byte cannot also pass all
/// three but by chance, one in 31 times 16: then zlib fails, and so does
/// the body, in words.
fn is_zlib(header: [u8; 2]) -> bool {
    let [cmf, flg] = header;
    cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(cmf) << 8 | u16::from(flg)) % 31 == 0
}

impl Decoder {
    pub fn new(coding: Coding) -> Decoder {
        let inner = match coding {
            Coding::Gzip => Inner::Gzip(MultiGzDecoder::new(Vec::new())),
            Coding::Deflate => Inner::Sniffing(Vec::new()),
        };
        Decoder {
            coding,
            inner,
            empty: Vec::new(),
        }
    }

    /// Once two bytes of a `deflate` body are known, the decoder they
    /// call for, fed those bytes; the rest of `input` is left.
    fn sniff<'a>(&mut self, input: &'a [u8]) -> Result<&'a [u8], Error> {
        let Inner::Sniffing(seen) = &mut self.inner else {
            return Ok(input);
        };
        let take = input.len().min(2 - seen.len());
        seen.extend_from_slice(&input[..take]);
        if seen.len() < 2 {
            return Ok(&input[take..]);
        }
        let header = [seen[0], seen[1]];
        let mut inner = if is_zlib(header) {
            Inner::Zlib(ZlibDecoder::new(Vec::new()))
        } else {
            Inner::Raw(DeflateDecoder::new(Vec::new()))
        };
        let written = match &mut inner {
            Inner::Zlib(d) => d.write_all(&header),
            Inner::Raw(d) => d.write_all(&header),
            _ => Ok(()),
        };
        self.inner = inner;
        written.map_err(|e| self.corrupt(&e))?;
        Ok(&input[take..])
    }

    /// Decodes `input`, handing each step's output to `out`.
    pub fn feed(
        &mut self,
        input: &[u8],
        mut out: impl FnMut(&[u8]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let input = self.sniff(input)?;
        for step in input.chunks(STEP) {
            let written = match &mut self.inner {
                Inner::Gzip(d) => d.write_all(step),
                Inner::Zlib(d) => d.write_all(step),
                Inner::Raw(d) => d.write_all(step),
                Inner::Sniffing(_) => Ok(()),
            };
            written.map_err(|e| self.corrupt(&e))?;
            let decoded = std::mem::take(self.output());
            out(&decoded)?;
        }
        Ok(())
    }

    /// The body has ended: the stream must have too (a cut one is an
    /// error, not a shorter file). Hands over the last output.
    pub fn finish(&mut self, out: impl FnOnce(&[u8]) -> Result<(), Error>) -> Result<(), Error> {
        let finished = match &mut self.inner {
            Inner::Gzip(d) => d.try_finish(),
            Inner::Zlib(d) => d.try_finish(),
            Inner::Raw(d) => d.try_finish(),
            Inner::Sniffing(seen) => Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "the stream ended after {} of its header",
                    Bytes::of(seen.len())
                ),
            )),
        };
        finished.map_err(|e| self.corrupt(&e))?;
        let decoded = std::mem::take(self.output());
        out(&decoded)
    }

    fn output(&mut self) -> &mut Vec<u8> {
        match &mut self.inner {
            Inner::Gzip(d) => d.get_mut(),
            Inner::Zlib(d) => d.get_mut(),
            Inner::Raw(d) => d.get_mut(),
            // Nothing decoded yet: the header bytes are kept apart.
            Inner::Sniffing(_) => &mut self.empty,
        }
    }

    fn corrupt(&self, e: &std::io::Error) -> Error {
        let name = match self.coding {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
        };
        Error::protocol(crate::words!(
            "the {name} body cannot be decoded ({e}); fetch without {} saves it as sent",
            Setting::Compressed
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::{GzEncoder, ZlibEncoder};

    fn decode(coding: Coding, input: &[u8], split: usize) -> Result<Vec<u8>, Error> {
        let mut decoder = Decoder::new(coding);
        let mut out = Vec::new();
        for piece in input.chunks(split.max(1)) {
            decoder.feed(piece, |b| {
                out.extend_from_slice(b);
                Ok(())
            })?;
        }
        decoder.finish(|b| {
            out.extend_from_slice(b);
            Ok(())
        })?;
        Ok(out)
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn decodes_at_any_split() {
        let data: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let gz = gzip(&data);
        let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
        z.write_all(&data).unwrap();
        let z = z.finish().unwrap();
        for split in [1, 7, 1000, 1 << 20] {
            assert_eq!(decode(Coding::Gzip, &gz, split).unwrap(), data, "{split}");
            assert_eq!(decode(Coding::Deflate, &z, split).unwrap(), data, "{split}");
        }
    }

    #[test]
    fn a_gzip_body_of_several_members_is_decoded_whole() {
        let data: Vec<u8> = (0..50_000u32).map(|i| (i % 253) as u8).collect();
        let mut members = gzip(&data[..20_000]);
        members.extend_from_slice(&gzip(&data[20_000..]));
        members.extend_from_slice(&gzip(b""));
        for split in [1, 7, 1000, 1 << 20] {
            assert_eq!(
                decode(Coding::Gzip, &members, split).unwrap(),
                data,
                "{split}"
            );
        }
        // A cut second member is an error, not a shorter file.
        let cut = &members[..members.len() - 30];
        assert!(decode(Coding::Gzip, cut, 100).is_err());
    }

    #[test]
    fn deflate_without_the_zlib_header_is_decoded_too() {
        use flate2::write::DeflateEncoder;
        for data in [
            b"".to_vec(),
            b"x".to_vec(),
            (0..100_000u32).map(|i| (i % 7) as u8).collect::<Vec<u8>>(),
        ] {
            for level in [
                Compression::none(),
                Compression::fast(),
                Compression::best(),
            ] {
                let mut e = DeflateEncoder::new(Vec::new(), level);
                e.write_all(&data).unwrap();
                let raw = e.finish().unwrap();
                let mut z = ZlibEncoder::new(Vec::new(), level);
                z.write_all(&data).unwrap();
                let z = z.finish().unwrap();
                for split in [1, 2, 3, 1000] {
                    assert_eq!(decode(Coding::Deflate, &raw, split).unwrap(), data);
                    assert_eq!(decode(Coding::Deflate, &z, split).unwrap(), data);
                }
            }
        }
        // One byte is no stream of either kind.
        let err = decode(Coding::Deflate, b"x", 1).unwrap_err().to_string();
        assert!(err.contains("deflate body cannot be decoded"), "{err}");
        assert!(decode(Coding::Deflate, b"not deflate at all", 100).is_err());
    }

    #[test]
    fn a_cut_or_corrupt_stream_is_an_error() {
        let gz = gzip(&[b'x'; 10_000]);
        let cut = &gz[..gz.len() - 4];
        let err = decode(Coding::Gzip, cut, 100).unwrap_err().to_string();
        assert!(err.contains("gzip body cannot be decoded"), "{err}");
        let mut bad = gz.clone();
        let n = bad.len();
        bad[n - 6] ^= 0xff; // the CRC
        assert!(decode(Coding::Gzip, &bad, 100).is_err());
        assert!(decode(Coding::Gzip, b"not gzip at all", 100).is_err());
    }

    #[test]
    fn one_step_of_a_bomb_stays_small() {
        let gz = gzip(&vec![0u8; 50 << 20]);
        let mut decoder = Decoder::new(Coding::Gzip);
        let mut largest = 0;
        decoder
            .feed(&gz, |b| {
                largest = largest.max(b.len());
                Ok(())
            })
            .unwrap();
        assert!(largest <= 1100 * STEP, "{largest}");
    }

    #[test]
    fn codings() {
        assert_eq!(Coding::of(None).unwrap(), None);
        assert_eq!(Coding::of(Some("identity")).unwrap(), None);
        assert_eq!(Coding::of(Some(" GZIP ")).unwrap(), Some(Coding::Gzip));
        assert_eq!(Coding::of(Some("deflate")).unwrap(), Some(Coding::Deflate));
        let err = Coding::of(Some("br")).unwrap_err().to_string();
        assert!(err.contains("\"br\"") && err.contains("without") && err.contains("compressed"));
    }
}
