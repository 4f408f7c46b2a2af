//! The real-mode broker: real TCP, real files (FsDisk), the system clock.
//!
//! ```text
//! kafkasim-broker --node-id 1 --listen 127.0.0.1:9092 --log-dir /tmp/kafkasim-1 [--config key=value]...
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
}

#[cfg(not(madsim))]
mod real {
    use std::collections::BTreeMap;
    use std::net::SocketAddr;
    use std::path::PathBuf;

    use kafkasim::env::Env;
    use kafkasim::server::{self, BrokerConfig};

    pub struct Options {
        node_id: i32,
        listen: SocketAddr,
        log_dir: PathBuf,
        configs: BTreeMap<String, String>,
    }

    pub fn parse(args: &[String]) -> Result<Options, String> {
        let mut node_id = 1;
        let mut listen: SocketAddr = "127.0.0.1:9092".parse().expect("literal");
        let mut log_dir = None;
        let mut configs = BTreeMap::new();
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
        })
    }

    pub async fn run(options: Options) -> anyhow::Result<()> {
        std::fs::create_dir_all(&options.log_dir)?;
        let mut config = BrokerConfig::single(options.node_id, options.listen);
        config.configs = options.configs;
        let env = Env::real(options.node_id, &options.log_dir);
        eprintln!(
            "kafkasim-broker {} listening on {} with log dir {}",
            options.node_id,
            options.listen,
            options.log_dir.display()
        );
        server::run(env, config).await
    }
}
