//! Criterion benchmark of the greeting protocol's decoder alone, no I/O:
//! bytes per second of input for line framing (64 messages per read, as a
//! deep pipeline delivers them) and for chunk framing (one read, one
//! message), plus a line split across reads.
//!
//!     cargo bench --bench decoder

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tcpkit_wire::greeting::{Decoder, Framing, Settings};

fn settings(framing: Framing) -> Settings {
    Settings {
        framing,
        ..Settings::default()
    }
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decoder");
    let mut out = Vec::with_capacity(64 * 1024);

    let lines = "Michael-17\n".repeat(64).into_bytes();
    let line = settings(Framing::Line);
    group.throughput(Throughput::Bytes(lines.len() as u64));
    group.bench_with_input(
        BenchmarkId::new("line", "64 msgs/read"),
        &lines,
        |b, input| {
            let mut decoder = Decoder::new(Framing::Line);
            b.iter(|| {
                out.clear();
                decoder.decode(&line, input, &mut out, usize::MAX)
            });
        },
    );

    let chunk = settings(Framing::Chunk);
    let message = b"Michael-17".to_vec();
    group.throughput(Throughput::Bytes(message.len() as u64));
    group.bench_with_input(
        BenchmarkId::new("chunk", "1 msg/read"),
        &message,
        |b, input| {
            let mut decoder = Decoder::new(Framing::Chunk);
            b.iter(|| {
                out.clear();
                decoder.decode(&chunk, input, &mut out, usize::MAX)
            });
        },
    );

    // A line arriving in two reads: the first piece is kept, then joined.
    let (head, tail) = lines.split_at(lines.len() / 2 + 3);
    group.throughput(Throughput::Bytes(lines.len() as u64));
    group.bench_function(BenchmarkId::new("line", "split across 2 reads"), |b| {
        let mut decoder = Decoder::new(Framing::Line);
        b.iter(|| {
            out.clear();
            decoder.decode(&line, head, &mut out, usize::MAX);
            decoder.decode(&line, tail, &mut out, usize::MAX)
        });
    });
    group.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
