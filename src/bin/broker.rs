//! The real-mode broker: real TCP, real files (FsDisk), the system clock.
//!
//! ```text
//! kafkasim-broker --node-id 1 --listen 127.0.0.1:9092 --log-dir /tmp/kafkasim-1 [--config key=value]...
//! ```
//! A cluster: one controller process and brokers that name it, each told the brokers and the
//! topics' placement (`--topic name=1,2,3/2,3,1` gives partition 0 replicas 1,2,3 and
//! partition 1 replicas 2,3,1; the first replica is the preferred leader):
//! ```text
//! kafkasim-broker --role controller --listen 127.0.0.1:9093 --log-dir /tmp/c --topic t=1,2/2,1
//! kafkasim-broker --node-id 1 --listen 127.0.0.1:9092 --log-dir /tmp/b1 --controller 127.0.0.1:9093 \
//!     --peer 1@127.0.0.1:9092 --peer 2@127.0.0.1:9094 --topic t=1,2/2,1
//! ```
//! Build it without the simulator: `RUSTFLAGS= cargo build --release --target-dir target/real --bin kafkasim-broker`.

#[cfg(madsim)]
fn main() {
    eprintln!("kafkasim-broker was built for simulation; build it with RUSTFLAGS= and --target-dir target/real");
    std::process::exit(2);
}

#[cfg(not(madsim))]
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match real::parse(&args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("kafkasim-broker: {message}\nusage: kafkasim-broker --node-id N --listen HOST:PORT --log-dir DIR [--config key=value]...");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(error) = runtime.block_on(real::run(options)) {
        eprintln!("kafkasim-broker: {error:#}");
        std::process::exit(1);
    }
    // A clean shutdown finished (the marker is written): exit now, dropping whatever tasks
    // remain rather than waiting on them.
    std::process::exit(0);
}

#[cfg(not(madsim))]
mod real {
    use std::collections::BTreeMap;
    use std::net::SocketAddr;
    use std::path::PathBuf;

    use kafkasim::env::Env;
    use kafkasim::server::{self, BrokerConfig, BrokerEndpoint, TopicAssignment};

    pub struct Options {
        node_id: i32,
        listen: SocketAddr,
        log_dir: PathBuf,
        configs: BTreeMap<String, String>,
        /// `--role controller`: run the controller instead of a broker.
        controller_role: bool,
        controller: Option<SocketAddr>,
        peers: Vec<BrokerEndpoint>,
        topics: Vec<TopicAssignment>,
    }

    fn parse_peer(text: &str) -> Result<BrokerEndpoint, String> {
        let (id, addr) = text
            .split_once('@')
            .ok_or_else(|| format!("--peer {text}: expected ID@HOST:PORT"))?;
        let node_id = id.parse().map_err(|_| format!("--peer {text}: bad id"))?;
        let addr: SocketAddr = addr
            .parse()
            .map_err(|_| format!("--peer {text}: bad address"))?;
        Ok(BrokerEndpoint {
            node_id,
            host: addr.ip().to_string(),
            port: addr.port() as i32,
        })
    }

    fn parse_topic(text: &str) -> Result<TopicAssignment, String> {
        let (name, placement) = text
            .split_once('=')
            .ok_or_else(|| format!("--topic {text}: expected NAME=R,R/R,R"))?;
        let replicas = placement
            .split('/')
            .map(|part| {
                part.split(',')
                    .map(|r| r.trim().parse::<i32>())
                    .collect::<Result<Vec<i32>, _>>()
            })
            .collect::<Result<Vec<Vec<i32>>, _>>()
            .map_err(|_| format!("--topic {text}: replicas must be broker ids"))?;
        Ok(TopicAssignment {
            name: name.to_string(),
            replicas,
            configs: BTreeMap::new(),
        })
    }

    pub fn parse(args: &[String]) -> Result<Options, String> {
        let mut node_id = 1;
        let mut listen: SocketAddr = "127.0.0.1:9092".parse().expect("literal");
        let mut log_dir = None;
        let mut configs = BTreeMap::new();
        let mut controller_role = false;
        let mut controller = None;
        let mut peers = Vec::new();
        let mut topics = Vec::new();
        let mut args = args.iter();
        while let Some(flag) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--node-id" => {
                    node_id = value()?
                        .parse()
                        .map_err(|_| "--node-id: expected an integer".to_string())?
                }
                "--listen" => {
                    listen = value()?
                        .parse()
                        .map_err(|_| "--listen: expected HOST:PORT".to_string())?
                }
                "--log-dir" => log_dir = Some(PathBuf::from(value()?)),
                "--role" => match value()?.as_str() {
                    "controller" => controller_role = true,
                    "broker" => controller_role = false,
                    other => return Err(format!("--role {other}: expected broker or controller")),
                },
                "--controller" => {
                    controller = Some(
                        value()?
                            .parse()
                            .map_err(|_| "--controller: expected HOST:PORT".to_string())?,
                    )
                }
                "--peer" => peers.push(parse_peer(value()?)?),
                "--topic" => topics.push(parse_topic(value()?)?),
                "--config" => {
                    let pair = value()?;
                    let (k, v) = pair
                        .split_once('=')
                        .ok_or_else(|| format!("--config {pair}: expected key=value"))?;
                    configs.insert(k.to_string(), v.to_string());
                }
                other => return Err(format!("unknown argument {other}")),
            }
        }
        let log_dir = log_dir.ok_or("--log-dir is required")?;
        Ok(Options {
            node_id,
            listen,
            log_dir,
            configs,
            controller_role,
            controller,
            peers,
            topics,
        })
    }

    pub async fn run(options: Options) -> anyhow::Result<()> {
        std::fs::create_dir_all(&options.log_dir)?;
        if options.controller_role {
            return run_controller(options).await;
        }
        let mut config = BrokerConfig::single(options.node_id, options.listen);
        config.configs = options.configs;
        config.controller = options.controller;
        config.topics = options.topics;
        if !options.peers.is_empty() {
            config.brokers = options.peers;
        }
        let env = Env::real(options.node_id, &options.log_dir);
        eprintln!(
            "kafkasim-broker {} listening on {} with log dir {}",
            options.node_id,
            options.listen,
            options.log_dir.display()
        );
        server::run(env, config, terminated()).await
    }

    /// SIGTERM or SIGINT: the broker shuts down cleanly, then the process exits.
    async fn terminated() {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut sigterm) => {
                tokio::select! {
                    biased;
                    _ = sigterm.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        eprintln!("kafkasim-broker: shutting down cleanly");
    }

    async fn run_controller(options: Options) -> anyhow::Result<()> {
        use kafkasim::controller::node::{self, ControllerNodeConfig};
        use kafkasim::controller::ControllerConfig;
        let int = |key: &str, default: i64| {
            options
                .configs
                .get(key)
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(default)
        };
        let controller = ControllerConfig {
            unclean_leader_election_enable: options
                .configs
                .get("unclean.leader.election.enable")
                .is_some_and(|v| v == "true"),
            min_insync_replicas: int("min.insync.replicas", 1) as i32,
            broker_session_timeout_ms: int("broker.session.timeout.ms", 9000) as u64,
            ..ControllerConfig::default()
        };
        let env = Env::real(0, &options.log_dir);
        eprintln!(
            "kafkasim controller listening on {} with log dir {}",
            options.listen,
            options.log_dir.display()
        );
        node::run(
            env,
            ControllerNodeConfig {
                listen: options.listen,
                controller,
                topics: options.topics,
            },
            async {
                let _ = tokio::signal::ctrl_c().await;
            },
        )
        .await
    }
}
