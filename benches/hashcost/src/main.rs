//! Hashes 1 GiB held in memory as 8192 pieces of 128 KiB (the piece length of the 128 MiB files
//! of hashing.sh) and prints the best of N runs of: SHA-1 per piece; SHA-1 per piece + running
//! SHA-256 in one thread; SHA-256 alone (thread CPU time, which other load on the machine
//! disturbs less than wall time); then the one-thread pair against the node's two-thread
//! pipeline (wall time and process CPU time). Usage: hashcost [RUNS]

use std::sync::mpsc::sync_channel;
use std::time::Instant;

use sha1::{Digest, Sha1};
use sha2::Sha256;

const PIECE: usize = 128 * 1024;
const PIECES: usize = 8192;

fn clock(id: libc::clockid_t) -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a valid pointer to a timespec.
    unsafe { libc::clock_gettime(id, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

fn thread_cpu() -> f64 {
    clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

fn process_cpu() -> f64 {
    clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// One "read": the source piece copied into `buf`, its first byte made unique.
fn fill(buf: &mut [u8], src: &[u8], i: usize) {
    buf.copy_from_slice(src);
    buf[0] = i as u8;
}

fn one_thread(src: &[u8], with_sha256: bool, with_sha1: bool) -> u8 {
    let mut buf = vec![0u8; PIECE];
    let mut h = Sha256::new();
    let mut sink = 0u8;
    for i in 0..PIECES {
        fill(&mut buf, src, i);
        if with_sha1 {
            sink ^= Sha1::digest(&buf)[0];
        }
        if with_sha256 {
            h.update(&buf);
        }
    }
    sink ^ h.finalize()[0]
}

/// The node's way (src/library/hasher.rs): SHA-1 here, SHA-256 on a second thread, two
/// buffers taking turns.
fn two_threads(src: &[u8]) -> u8 {
    std::thread::scope(|s| {
        let (full_tx, full_rx) = sync_channel::<Vec<u8>>(1);
        let (empty_tx, empty_rx) = sync_channel::<Vec<u8>>(2);
        for _ in 0..2 {
            let _ = empty_tx.send(vec![0u8; PIECE]);
        }
        let whole = s.spawn(move || {
            let mut h = Sha256::new();
            for buf in full_rx {
                h.update(&buf);
                let _ = empty_tx.send(buf);
            }
            h.finalize()[0]
        });
        let mut sink = 0u8;
        for i in 0..PIECES {
            let mut buf = empty_rx.recv().expect("buffer back");
            fill(&mut buf, src, i);
            sink ^= Sha1::digest(&buf)[0];
            full_tx.send(buf).expect("SHA-256 thread");
        }
        drop(full_tx);
        sink ^ whole.join().expect("SHA-256 thread")
    })
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    let mut src = vec![0u8; PIECE];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for b in src.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let mut sink = 0u8;
    let mut cpu = [f64::MAX; 3];
    let mut wall = [f64::MAX; 2];
    let mut proc_cpu = [f64::MAX; 2];
    for _ in 0..runs {
        for (k, (sha256, sha1)) in [(false, true), (true, true), (true, false)]
            .into_iter()
            .enumerate()
        {
            let t = thread_cpu();
            sink ^= one_thread(&src, sha256, sha1);
            cpu[k] = cpu[k].min(thread_cpu() - t);
        }
        for k in 0..2 {
            let (w, c) = (Instant::now(), process_cpu());
            sink ^= if k == 0 {
                one_thread(&src, true, true)
            } else {
                two_threads(&src)
            };
            wall[k] = wall[k].min(w.elapsed().as_secs_f64());
            proc_cpu[k] = proc_cpu[k].min(process_cpu() - c);
        }
    }
    let bytes = (PIECE * PIECES) as f64;
    let mbps = |s: f64| bytes / s / 1e6;
    println!(
        "best of {runs}, 1 GiB in {} KiB pieces (copy into the buffer included)",
        PIECE / 1024
    );
    for (name, s) in [
        ("SHA-1 pieces", cpu[0]),
        ("SHA-1 pieces + SHA-256", cpu[1]),
        ("SHA-256 alone", cpu[2]),
    ] {
        println!("{name}: {s:.3} s thread CPU = {:.0} MB/s", mbps(s));
    }
    println!(
        "SHA-256 adds {:.0}% CPU to the pieces' SHA-1",
        (cpu[1] / cpu[0] - 1.0) * 100.0
    );
    for (name, k) in [("one thread ", 0), ("two threads", 1)] {
        println!(
            "{name} (SHA-1 + SHA-256): wall {:.3} s = {:.0} MB/s, process CPU {:.3} s",
            wall[k],
            mbps(wall[k]),
            proc_cpu[k]
        );
    }
    std::hint::black_box(sink);
}
