//! A GGUF header walk that names the tensor candle could not read. candle's reader stops at the
//! first tensor of a type it does not know (an i-quant, a ternary type) with the type's number
//! only; this finds which tensor it was, so the error can name it.

use std::io::{BufReader, Read};
use std::path::Path;

/// ggml type numbers candle reads and dequantizes (ggml's `enum ggml_type`).
const KNOWN: &[(u32, &str)] = &[
    (0, "F32"),
    (1, "F16"),
    (2, "Q4_0"),
    (3, "Q4_1"),
    (6, "Q5_0"),
    (7, "Q5_1"),
    (8, "Q8_0"),
    (9, "Q8_1"),
    (10, "Q2_K"),
    (11, "Q3_K"),
    (12, "Q4_K"),
    (13, "Q5_K"),
    (14, "Q6_K"),
    (15, "Q8_K"),
    (30, "BF16"),
];

/// Names of other ggml types, for the message.
fn type_name(t: u32) -> &'static str {
    match t {
        16 => "IQ2_XXS",
        17 => "IQ2_XS",
        18 => "IQ3_XXS",
        19 => "IQ1_S",
        20 => "IQ4_NL",
        21 => "IQ3_S",
        22 => "IQ2_S",
        23 => "IQ4_XS",
        24 => "I8",
        25 => "I16",
        26 => "I32",
        27 => "I64",
        28 => "F64",
        29 => "IQ1_M",
        34 => "TQ1_0",
        35 => "TQ2_0",
        _ => KNOWN
            .iter()
            .find(|(n, _)| *n == t)
            .map_or("unknown", |(_, s)| s),
    }
}

pub(crate) fn supported() -> String {
    KNOWN.iter().map(|(_, s)| *s).collect::<Vec<_>>().join(", ")
}

struct Walk<R: Read>(R);

impl<R: Read> Walk<R> {
    fn bytes<const N: usize>(&mut self) -> Option<[u8; N]> {
        let mut b = [0u8; N];
        self.0.read_exact(&mut b).ok()?;
        Some(b)
    }
    fn u32(&mut self) -> Option<u32> {
        self.bytes::<4>().map(u32::from_le_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.bytes::<8>().map(u64::from_le_bytes)
    }
    fn skip(&mut self, n: u64) -> Option<()> {
        let copied = std::io::copy(&mut (&mut self.0).take(n), &mut std::io::sink()).ok()?;
        (copied == n).then_some(())
    }
    fn string(&mut self) -> Option<String> {
        let n = self.u64()?;
        let mut b = vec![0u8; usize::try_from(n).ok().filter(|&n| n < 1 << 20)?];
        self.0.read_exact(&mut b).ok()?;
        String::from_utf8(b).ok()
    }
    fn value(&mut self, kind: u32) -> Option<()> {
        match kind {
            0 | 1 | 7 => self.skip(1),
            2 | 3 => self.skip(2),
            4..=6 => self.skip(4),
            10..=12 => self.skip(8),
            8 => self.string().map(|_| ()),
            9 => {
                let (elem, n) = (self.u32()?, self.u64()?);
                for _ in 0..n {
                    self.value(elem)?;
                }
                Some(())
            }
            _ => None,
        }
    }
}

/// The first tensor whose type candle does not read: (name, type number, type name). `None`
/// where the header cannot be walked (not GGUF v2/v3) or every type is known.
pub(crate) fn unreadable_tensor(path: &Path) -> Option<(String, u32, &'static str)> {
    let mut w = Walk(BufReader::new(std::fs::File::open(path).ok()?));
    if &w.bytes::<4>()? != b"GGUF" || !matches!(w.u32()?, 2 | 3) {
        return None;
    }
    let (tensors, kvs) = (w.u64()?, w.u64()?);
    for _ in 0..kvs {
        w.string()?;
        let kind = w.u32()?;
        w.value(kind)?;
    }
    for _ in 0..tensors {
        let name = w.string()?;
        let dims = w.u32()?;
        w.skip(8 * u64::from(dims))?;
        let t = w.u32()?;
        w.u64()?;
        if !KNOWN.iter().any(|(n, _)| *n == t) {
            return Some((name, t, type_name(t)));
        }
    }
    None
}
