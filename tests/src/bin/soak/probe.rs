//! The fresh client of every sample: connects, opens a stream from the first line of a
//! file and waits for its first message, on a thread and a runtime of its own so that the
//! soak's 1,000 clients do not delay it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use camlnet_tcp_file::StreamOptions;

use crate::clients::connect;
use crate::server::file_name;

/// How long a probe may take before it counts as failed.
const PROBE_LIMIT: Duration = Duration::from_secs(5);

/// Probes about once a second until stopped; the latest answer time, in milliseconds
/// (`None` for a probe that failed or took over [`PROBE_LIMIT`]), is in `latest`.
#[derive(Debug)]
pub(crate) struct Prober {
    pub(crate) latest: Arc<Mutex<Option<Option<f64>>>>,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Prober {
    pub(crate) fn start(address: SocketAddr) -> std::io::Result<Prober> {
        let latest = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (answer, stopped) = (latest.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                let start = Instant::now();
                let took = runtime
                    .block_on(async { tokio::time::timeout(PROBE_LIMIT, probe(address)).await });
                let ms = matches!(took, Ok(true)).then(|| start.elapsed().as_secs_f64() * 1e3);
                *answer.lock().unwrap_or_else(|p| p.into_inner()) = Some(ms);
                std::thread::sleep(Duration::from_secs(1).saturating_sub(start.elapsed()));
            }
        });
        Ok(Prober {
            latest,
            stop,
            thread,
        })
    }

    /// The latest probe's answer time in milliseconds: `None` before the first probe,
    /// `Some(None)` for a probe that failed.
    pub(crate) fn latest(&self) -> Option<Option<f64>> {
        *self.latest.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}

/// Whether a fresh client got its first message.
async fn probe(address: SocketAddr) -> bool {
    let Ok(client) = connect(address).await else {
        return false;
    };
    let mut stream = client.read(&file_name(0), StreamOptions::new());
    let got = matches!(stream.next().await, Some(Ok(_)));
    drop(stream);
    client.disconnect().await;
    got
}
