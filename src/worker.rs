//! `lake worker`: a worker of a distributed DataFusion cluster (datafusion-distributed, over
//! Arrow Flight on gRPC) that runs stages of `lake promote`'s plans.
//!
//! The coordinator (`lake promote --workers host:port,…`, or `[promote] workers`) resolves the
//! input versions in its catalog, plans each job, and sends the plan's stages to the workers;
//! they read the versions' files straight from the shared store and stream their results back
//! (and to each other, for shuffles). The coordinator runs the plan's head, then writes, checks
//! and commits the output through the one write path, as a local promote does: workers write
//! nothing, and never see the catalog.
//!
//! A worker needs the project's `lake.toml` (the root's URL, `[s3]`, and the salt that
//! `pseudonymize()` hashes with), not its catalog. If a worker dies while a job runs, the job's
//! query fails, its staged write is removed, and nothing is committed; the job's retry policy
//! (`-- retries:`) applies as it does to any failure.

use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::error::DataFusionError;
use datafusion::execution::SessionState;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion_distributed::{Worker, WorkerQueryContext, WorkerResolver, WorkerSessionBuilder};
use url::Url;

use crate::config::{self, CONFIG_FILE, Config};
use crate::error::{Error, Result};
use crate::functions;
use crate::storage::Storage;

/// The workers a coordinator plans onto.
#[derive(Debug, Clone)]
pub(crate) struct Workers {
    urls: Vec<Url>,
}

impl Workers {
    /// `host:port` (or `http://host:port`) addresses.
    pub(crate) fn parse(addresses: &[String]) -> Result<Workers> {
        let urls = addresses
            .iter()
            .map(|a| {
                let text = if a.contains("://") {
                    a.clone()
                } else {
                    format!("http://{a}")
                };
                Url::parse(&text)
                    .ok()
                    .filter(|u| u.host().is_some() && u.port().is_some())
                    .ok_or_else(|| Error::WorkerAddress { address: a.clone() })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Workers { urls })
    }

    /// Connect to each worker once, so a promote whose worker is down fails before any job
    /// runs, naming the address, instead of in the middle of the first job's query.
    pub(crate) async fn probe(&self) -> Result<()> {
        for url in &self.urls {
            let address = format!(
                "{}:{}",
                url.host_str().unwrap_or_default(),
                url.port().unwrap_or_default()
            );
            let connect = tokio::net::TcpStream::connect(address.clone());
            match tokio::time::timeout(std::time::Duration::from_secs(5), connect).await {
                Ok(Ok(_)) => {}
                Ok(Err(source)) => return Err(Error::WorkerUnreachable { address, source }),
                Err(_) => {
                    return Err(Error::WorkerUnreachable {
                        address,
                        source: std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            "no answer in 5 s",
                        ),
                    });
                }
            }
        }
        Ok(())
    }
}

impl WorkerResolver for Workers {
    fn get_urls(&self) -> std::result::Result<Vec<Url>, DataFusionError> {
        Ok(self.urls.clone())
    }
}

/// Each query a worker runs gets lake's SQL functions, keyed by the project's salt.
#[derive(Clone)]
struct LakeSession {
    salt: String,
}

#[async_trait]
impl WorkerSessionBuilder for LakeSession {
    async fn build_session_state(
        &self,
        ctx: WorkerQueryContext,
    ) -> std::result::Result<SessionState, DataFusionError> {
        tracing::info!("running a task of a stage for a coordinator");
        crate::failpoint::pass("worker.task")
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let mut builder = ctx.builder;
        if let Some(udfs) = builder.scalar_functions() {
            udfs.extend(functions::all(&self.salt).into_iter().map(Arc::new));
        }
        Ok(builder.build())
    }
}

/// Serve as a worker of the project in `dir` on `bind` until `stop` resolves; `ready` is told
/// the address it listens on (the port, when `bind` asked for any).
pub async fn serve(
    dir: &std::path::Path,
    bind: SocketAddr,
    ready: impl FnOnce(SocketAddr, &str),
    stop: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let project = config::find_project(dir)?;
    let config = Config::load(&project.join(CONFIG_FILE))?;
    let storage = Storage::open(&config.lake.root, &project, &config.s3)?;
    storage.check().await?;
    let runtime = RuntimeEnvBuilder::new()
        .build_arc()
        .map_err(|e| Error::Internal(format!("DataFusion runtime: {e}")))?;
    let url = Url::parse(crate::sql::STORE_URL).expect("a valid URL");
    runtime.register_object_store(&url, storage.object_store());
    let worker = Worker::from_session_builder(LakeSession {
        salt: config.promote.salt.clone(),
    })
    .with_runtime_env(runtime);
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|source| Error::ServeBind {
            bind: bind.to_string(),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| Error::ServeBind {
        bind: bind.to_string(),
        source,
    })?;
    ready(addr, storage.url());
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    tonic::transport::Server::builder()
        .add_service(worker.into_worker_server())
        .serve_with_incoming_shutdown(incoming, stop)
        .await
        .map_err(|e| Error::Internal(format!("worker on {bind}: {e}")))
}
