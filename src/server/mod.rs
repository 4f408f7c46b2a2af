//! The broker: listener, connections, request dispatch and the partitions it hosts.
//!
//! [`Broker::start`] opens (recovers) every partition this broker hosts, then [`serve`]
//! accepts connections. Each connection handles one request at a time, like Kafka's muted
//! channels, so responses leave in request order. Malformed or unsupported requests get a
//! Kafka error code where the protocol has room for one, otherwise the connection is closed;
//! nothing a peer sends can panic the broker.

mod clean_shutdown;
pub mod config;
pub mod config_catalog;
mod connection;
mod controller_link;
pub mod fetch_session;
mod fetcher;
pub mod groups;
mod handlers;
pub mod partition;
mod topic_configs;
pub mod topic_ids;
mod topics;

use crate::protocol::codes::ErrorCode;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::sync::Watch;
use tokio::net::TcpListener;

pub use config::{BrokerConfig, BrokerEndpoint, GroupModel, TopicAssignment};
use partition::{IsrProposal, PartitionHandle, ReplicaConfig, TICK_INTERVAL};

use crate::metadata::MetadataState;

use crate::replication::HighWatermarkCheckpoint;

use crate::env::Env;

/// A running broker's shared state.
/// Dynamic broker configs: the cluster-wide default (BROKER resource "") and this broker's
/// own (its id), each a complete set by broker-level name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DynamicBrokerConfigs {
    pub default: BTreeMap<String, String>,
    pub own: BTreeMap<String, String>,
}

pub struct Broker {
    pub env: Env,
    pub config: BrokerConfig,
    /// Topics of the cluster map (static ones plus those created at run time).
    topics: Mutex<BTreeMap<String, TopicAssignment>>,
    /// Without a controller: each topic's id (KIP-516), as persisted in its partitions'
    /// `partition.metadata` or decided when it was added. With one, ids come from the
    /// metadata log instead and this stays empty.
    topic_ids: Mutex<BTreeMap<String, u128>>,
    /// The partitions this broker hosts, by (topic, partition).
    partitions: Mutex<BTreeMap<(String, i32), PartitionHandle>>,
    /// Bumped after every append on this broker; delayed fetches wait on it.
    appended: Watch<u64>,
    /// Incremental fetch sessions (KIP-227), at most `max.incremental.fetch.session.cache.slots`.
    fetch_sessions: Mutex<fetch_session::FetchSessionCache>,
    /// When this broker started, on the monotonic clock: the origin of session timestamps.
    started: tokio::time::Instant,
    /// With a controller: the metadata log as applied so far (`None` before the first batch).
    metadata: Mutex<Option<MetadataState>>,
    /// With a controller: how many metadata records were applied (reported in heartbeats).
    metadata_offset: AtomicI64,
    /// This process's incarnation, sent as the broker epoch.
    broker_epoch: AtomicI64,
    /// Leaders' ISR proposals go here; the controller link sends them on.
    isr_proposals: Option<mpsc::UnboundedSender<IsrProposal>>,
    /// The receiving end, taken by the controller link when it starts.
    isr_proposals_rx: Mutex<Option<mpsc::UnboundedReceiver<IsrProposal>>>,
    /// The broker epoch of the clean shutdown before this start (-1: the last stop was not
    /// clean), reported at registration.
    previous_broker_epoch: i64,
    /// Set when a controlled shutdown begins: heartbeats then ask the controller to move
    /// leadership off (`want_shut_down`).
    shutting_down: AtomicBool,
    /// Set when the controller answered `should_shut_down`.
    shutdown_approved: Watch<bool>,
    /// Bumped to send a heartbeat now rather than at the next interval.
    heartbeat_now: Watch<u64>,
    /// With a controller: the brokers the applied metadata shows fenced (KIP-841: leaders do
    /// not propose them for the ISR).
    fenced_brokers: Watch<std::collections::BTreeSet<i32>>,
    /// Set once the shutdown stops the broker: requests are refused, fetchers and timers
    /// stop, the partitions close, and nothing is written to the log directory but the
    /// final checkpoint and the clean-shutdown marker.
    stopped: AtomicBool,
    /// Hands out producer ids for InitProducerId; loaded from disk at the first request.
    producer_ids: Mutex<Option<crate::txn::ProducerIdManager>>,
    /// Dynamic broker configs (AlterConfigs on a BROKER resource), over `config.configs`.
    dynamic_configs: Mutex<DynamicBrokerConfigs>,
    /// The group coordinator of the `__consumer_offsets` partitions this broker leads.
    pub(crate) groups: groups::GroupCoordinator,
}

impl Broker {
    /// Load the cluster map and open every hosted partition (running log recovery).
    pub fn start(env: Env, config: BrokerConfig) -> anyhow::Result<Arc<Broker>> {
        let appended = Watch::new(0);
        env.trace.observe(&crate::env::Observation::Restarted);
        // Taken (and removed) before any log is opened: recovery may write, and a crash
        // from now on must count as unclean.
        let previous_broker_epoch = clean_shutdown::take(&*env.disk)?;
        if previous_broker_epoch.is_some() {
            env.trace.effect("startup.after_clean_shutdown", 1);
        }
        let (isr_proposals, isr_proposals_rx) = match config.controller {
            Some(_) => {
                let (tx, rx) = mpsc::unbounded_channel();
                (Some(tx), Some(rx))
            }
            None => (None, None),
        };
        let session_slots = config.max_incremental_fetch_session_cache_slots();
        let group_settings =
            groups::GroupSettings::from_config(&config).map_err(anyhow::Error::msg)?;
        let broker = Arc::new(Broker {
            env,
            config,
            topics: Mutex::new(BTreeMap::new()),
            topic_ids: Mutex::new(BTreeMap::new()),
            partitions: Mutex::new(BTreeMap::new()),
            appended,
            fetch_sessions: Mutex::new(fetch_session::FetchSessionCache::new(session_slots)),
            started: tokio::time::Instant::now(),
            metadata: Mutex::new(None),
            metadata_offset: AtomicI64::new(0),
            broker_epoch: AtomicI64::new(0),
            isr_proposals,
            isr_proposals_rx: Mutex::new(isr_proposals_rx),
            previous_broker_epoch: previous_broker_epoch.unwrap_or(-1),
            shutting_down: AtomicBool::new(false),
            shutdown_approved: Watch::new(false),
            heartbeat_now: Watch::new(0),
            fenced_brokers: Watch::new(std::collections::BTreeSet::new()),
            stopped: AtomicBool::new(false),
            producer_ids: Mutex::new(None),
            dynamic_configs: Mutex::new(DynamicBrokerConfigs::default()),
            groups: groups::GroupCoordinator::new(group_settings),
        });
        if broker.config.controller.is_none() {
            // With a controller they come from the metadata log instead.
            let persisted = topic_configs::load_broker(&*broker.env.disk)?;
            let own = persisted.get(&broker.config.node_id.to_string());
            *broker.dynamic_configs.lock().unwrap() = DynamicBrokerConfigs {
                default: persisted.get("").cloned().unwrap_or_default(),
                own: own.cloned().unwrap_or_default(),
            };
        }
        let mut known: Vec<TopicAssignment> = broker.config.topics.clone();
        for topic in topics::load_persisted(&*broker.env.disk)? {
            // A topic of the static map is persisted once CreatePartitions grew it: the
            // persisted entry, with every partition, supersedes the static one.
            match known.iter_mut().find(|t| t.name == topic.name) {
                Some(known) if topic.replicas.len() > known.replicas.len() => *known = topic,
                Some(_) => {}
                None => known.push(topic),
            }
        }
        let altered = topic_configs::load(&*broker.env.disk)?;
        for topic in known.iter_mut() {
            if let Some(configs) = altered.get(&topic.name) {
                topic.configs = configs.clone();
            }
        }
        let checkpoint =
            HighWatermarkCheckpoint::read(&*broker.env.disk, HighWatermarkCheckpoint::FILE_NAME)
                .unwrap_or_else(|error| {
                    // A torn checkpoint is as good as none: followers then truncate to 0 and
                    // fetch everything again, which is safe.
                    tracing::warn!(%error, "unreadable high-watermark checkpoint");
                    BTreeMap::new()
                });
        for topic in known {
            broker.add_topic(topic, &checkpoint, false)?;
        }
        Ok(broker)
    }

    /// Register a topic and open the partitions of it that this broker hosts (as leader or
    /// follower), starting from the checkpointed high watermarks. `created`: the topic is new
    /// (CreateTopics), not one known before this start.
    fn add_topic(
        &self,
        topic: TopicAssignment,
        checkpoint: &BTreeMap<(String, i32), i64>,
        created: bool,
    ) -> anyhow::Result<()> {
        self.open_partitions(&topic, 0, checkpoint)?;
        if self.config.controller.is_none() {
            let id = match created {
                true => topic_ids::generate(),
                false => self.known_topic_id(&topic),
            };
            for (index, _) in self.hosted_indexes(&topic, 0) {
                topic_ids::write(&*self.env.disk, &format!("{}-{index}", topic.name), id)?;
            }
            self.topic_ids
                .lock()
                .unwrap()
                .insert(topic.name.clone(), id);
        }
        self.topics
            .lock()
            .unwrap()
            .insert(topic.name.clone(), topic);
        Ok(())
    }

    /// Without a controller: the id of a topic known at start. A partition that already has
    /// one (`partition.metadata`, written when the topic was created) keeps it; otherwise a
    /// topic of the static cluster map gets the id every broker derives for it, and any other
    /// (persisted before ids existed) a fresh random one. A topic created at run time always
    /// gets a fresh random one, so a deleted and re-created topic has a new id.
    fn known_topic_id(&self, topic: &TopicAssignment) -> u128 {
        let persisted = self.hosted_indexes(topic, 0).find_map(|(index, _)| {
            topic_ids::read(&*self.env.disk, &format!("{}-{index}", topic.name))
        });
        if let Some(id) = persisted {
            return id;
        }
        if self.config.topics.iter().any(|t| t.name == topic.name) {
            topic_ids::derived(&self.config.cluster_id, &topic.name)
        } else {
            topic_ids::generate()
        }
    }

    /// The partitions of `topic` from index `first` on that this broker hosts.
    fn hosted_indexes<'t>(
        &self,
        topic: &'t TopicAssignment,
        first: usize,
    ) -> impl Iterator<Item = (usize, &'t Vec<i32>)> + 't {
        let me = self.config.node_id;
        (topic.replicas.iter().enumerate())
            .skip(first)
            .filter(move |(_, replicas)| replicas.contains(&me))
    }

    /// A topic's id (KIP-516): from the metadata log with a controller, else as this broker
    /// decided it. `None` for a topic it does not know (or whose metadata has not arrived).
    pub fn topic_id(&self, name: &str) -> Option<u128> {
        if self.config.controller.is_some() {
            let metadata = self.metadata.lock().unwrap();
            return metadata.as_ref()?.topics.get(name).map(|t| t.topic_id);
        }
        self.topic_ids.lock().unwrap().get(name).copied()
    }

    /// The name of the topic with this id, if this broker knows one.
    pub fn topic_name(&self, id: u128) -> Option<String> {
        if self.config.controller.is_some() {
            let metadata = self.metadata.lock().unwrap();
            let topics = &metadata.as_ref()?.topics;
            return topics
                .iter()
                .find(|(_, t)| t.topic_id == id)
                .map(|(name, _)| name.clone());
        }
        let ids = self.topic_ids.lock().unwrap();
        ids.iter()
            .find(|(_, &topic_id)| topic_id == id)
            .map(|(name, _)| name.clone())
    }

    /// Open the partitions of `topic` from index `first` on that this broker hosts.
    fn open_partitions(
        &self,
        topic: &TopicAssignment,
        first: usize,
        checkpoint: &BTreeMap<(String, i32), i64>,
    ) -> anyhow::Result<()> {
        let mut log_config = config::log_config(&self.broker_configs(), &topic.configs)
            .map_err(anyhow::Error::msg)?;
        log_config.planted_recovery_keeps_bad_crc = self.config.planted.recovery_keeps_bad_crc;
        log_config.planted_producer_state_not_replicated =
            self.config.planted.producer_state_not_replicated;
        let min_insync_replicas = self.min_insync_replicas(&topic.configs)?;
        let replica_lag_time_max_ms = config::int_config_of(
            &self.config.configs,
            &BTreeMap::new(),
            "replica.lag.time.max.ms",
        )
        .map_err(anyhow::Error::msg)?
        .unwrap_or(30_000)
        .max(0) as u64;
        for (index, replicas) in topic.replicas.iter().enumerate().skip(first) {
            if !replicas.contains(&self.config.node_id) {
                continue;
            }
            let dir = format!("{}-{}", topic.name, index);
            let replica = ReplicaConfig {
                broker_id: self.config.node_id,
                replicas: replicas.clone(),
                min_insync_replicas,
                replica_lag_time_max_ms,
                checkpointed_high_watermark: checkpoint
                    .get(&(topic.name.clone(), index as i32))
                    .copied(),
                isr_proposals: self.isr_proposals.clone(),
                ineligible_replicas: self
                    .isr_proposals
                    .as_ref()
                    .map(|_| self.fenced_brokers.subscribe()),
                truncation: self.config.truncation,
                epoch_lookup: self.config.epoch_lookup,
                planted: self.config.planted,
            };
            let handle = PartitionHandle::open(
                &self.env,
                &topic.name,
                index as i32,
                log_config.clone(),
                replica,
            )
            .map_err(|e| anyhow::anyhow!("opening {dir}: {e:?}"))?;
            self.partitions
                .lock()
                .unwrap()
                .insert((topic.name.clone(), index as i32), handle);
        }
        Ok(())
    }

    /// Add partitions to a topic at run time (CreatePartitions), with these replicas each:
    /// open the ones this broker hosts and persist the topic with all its partitions. The
    /// caller has checked the request. Returns false if no such topic exists.
    pub fn add_partitions(&self, name: &str, replicas: Vec<Vec<i32>>) -> anyhow::Result<bool> {
        let Some(mut topic) = self.topic(name) else {
            return Ok(false);
        };
        let first = topic.replicas.len();
        topic.replicas.extend(replicas);
        self.open_partitions(&topic, first, &BTreeMap::new())?;
        if let Some(id) = (self.topic_ids.lock().unwrap().get(name)).copied() {
            for (index, _) in self.hosted_indexes(&topic, first) {
                topic_ids::write(&*self.env.disk, &format!("{name}-{index}"), id)?;
            }
        }
        self.topics
            .lock()
            .unwrap()
            .insert(topic.name.clone(), topic);
        self.persist_runtime_topics()?;
        Ok(true)
    }

    /// `min.insync.replicas` for a topic with these overrides (at least 1).
    fn min_insync_replicas(&self, topic: &BTreeMap<String, String>) -> anyhow::Result<usize> {
        min_insync_replicas_of(&self.broker_configs(), topic)
    }

    /// Replace a topic's config overrides at run time (AlterConfigs): persist them in
    /// `__cluster/topic-configs`, then hand the new settings to every partition of the topic
    /// this broker hosts, which run with them from then on. The caller has checked them.
    /// Returns false if no such topic exists.
    pub async fn alter_topic_configs(
        &self,
        name: &str,
        configs: BTreeMap<String, String>,
    ) -> anyhow::Result<bool> {
        // Checked before anything is persisted.
        config::log_config(&self.broker_configs(), &configs).map_err(anyhow::Error::msg)?;
        self.min_insync_replicas(&configs)?;
        {
            let mut topics = self.topics.lock().unwrap();
            let Some(topic) = topics.get_mut(name) else {
                return Ok(false);
            };
            let mut altered = topic_configs::load(&*self.env.disk)?;
            altered.insert(name.to_string(), configs.clone());
            topic_configs::persist(&*self.env.disk, &altered)?;
            topic.configs = configs;
        }
        self.reconfigure_topic(name, &self.broker_configs()).await?;
        Ok(true)
    }

    /// Hand a topic's settings, as its overrides and the broker's configs now make them, to
    /// every partition of it this broker hosts; they run with them from then on.
    async fn reconfigure_topic(
        &self,
        name: &str,
        broker_configs: &BTreeMap<String, String>,
    ) -> anyhow::Result<()> {
        let Some(topic) = self.topic(name) else {
            return Ok(());
        };
        let log_config =
            config::log_config(broker_configs, &topic.configs).map_err(anyhow::Error::msg)?;
        let min_insync_replicas = min_insync_replicas_of(broker_configs, &topic.configs)?;
        let hosted: Vec<PartitionHandle> = self
            .partitions()
            .into_iter()
            .filter(|((topic, _), _)| topic == name)
            .map(|(_, handle)| handle)
            .collect();
        for handle in hosted {
            // A closed partition (shutdown) takes the configs at its next start instead.
            let _ = handle
                .reconfigure(log_config.clone(), min_insync_replicas)
                .await;
        }
        Ok(())
    }

    /// The broker configs in force: the config file's, under the cluster-wide dynamic default,
    /// under this broker's own dynamic configs.
    pub fn broker_configs(&self) -> BTreeMap<String, String> {
        let dynamic = self.dynamic_configs.lock().unwrap().clone();
        self.config_layers(&dynamic).effective()
    }

    /// The dynamic broker configs now in force.
    pub fn dynamic_configs(&self) -> DynamicBrokerConfigs {
        self.dynamic_configs.lock().unwrap().clone()
    }

    /// This broker's configs in layers, with these dynamic ones.
    pub fn config_layers<'a>(
        &'a self,
        dynamic: &'a DynamicBrokerConfigs,
    ) -> config_catalog::BrokerLayers<'a> {
        config_catalog::BrokerLayers {
            static_: &self.config.configs,
            dynamic_default: &dynamic.default,
            dynamic_own: &dynamic.own,
        }
    }

    /// Replace the dynamic broker configs (the caller checked them): without a controller
    /// persist them in `__cluster/broker-configs` first; then every hosted partition runs with
    /// the settings they make, at once.
    pub async fn set_dynamic_configs(&self, dynamic: DynamicBrokerConfigs) -> anyhow::Result<()> {
        let effective = self
            .check_dynamic_configs(&dynamic)
            .map_err(anyhow::Error::msg)?;
        if self.config.controller.is_none() {
            let mut persisted = topic_configs::Overrides::new();
            persisted.insert(String::new(), dynamic.default.clone());
            persisted.insert(self.config.node_id.to_string(), dynamic.own.clone());
            topic_configs::persist_broker(&*self.env.disk, &persisted)?;
        }
        *self.dynamic_configs.lock().unwrap() = dynamic;
        for topic in self.topics() {
            self.reconfigure_topic(&topic.name, &effective).await?;
        }
        Ok(())
    }

    /// The broker configs these dynamic ones would put in force, if every topic can run with
    /// them; else why not.
    pub fn check_dynamic_configs(
        &self,
        dynamic: &DynamicBrokerConfigs,
    ) -> Result<BTreeMap<String, String>, String> {
        let effective = self.config_layers(dynamic).effective();
        for topic in self.topics() {
            config::log_config(&effective, &topic.configs)?;
        }
        Ok(effective)
    }

    /// Create a topic at run time: open its partitions and persist the topic list.
    pub fn create_topic(&self, topic: TopicAssignment) -> anyhow::Result<()> {
        self.add_topic(topic, &BTreeMap::new(), true)?;
        self.persist_runtime_topics()?;
        Ok(())
    }

    /// Delete a topic: drop its partitions (their actors stop) and remove its files.
    /// Returns false if no such topic exists.
    pub fn delete_topic(&self, name: &str) -> anyhow::Result<bool> {
        let Some(topic) = self.topics.lock().unwrap().remove(name) else {
            return Ok(false);
        };
        self.topic_ids.lock().unwrap().remove(name);
        let disk = &self.env.disk;
        for index in 0..topic.replicas.len() {
            self.partitions
                .lock()
                .unwrap()
                .remove(&(name.to_string(), index as i32));
            let dir = format!("{name}-{index}");
            for file in disk.list_dir(&dir)? {
                disk.remove(&format!("{dir}/{file}"))?;
            }
            disk.fsync_dir(&dir)?;
        }
        self.persist_runtime_topics()?;
        // A topic created again under this name starts from its own configs.
        let mut altered = topic_configs::load(&**disk)?;
        if altered.remove(name).is_some() {
            topic_configs::persist(&**disk, &altered)?;
        }
        Ok(true)
    }

    /// Persist the topics that are not part of the static configuration as it is: those
    /// created at run time, and static ones CreatePartitions grew.
    fn persist_runtime_topics(&self) -> std::io::Result<()> {
        let runtime: Vec<TopicAssignment> = self
            .topics()
            .into_iter()
            .filter(|t| {
                !self
                    .config
                    .topics
                    .iter()
                    .any(|s| s.name == t.name && s.replicas.len() == t.replicas.len())
            })
            .collect();
        topics::persist(&*self.env.disk, &runtime)
    }

    /// The handle of a partition this broker leads.
    pub fn partition(&self, topic: &str, index: i32) -> Option<PartitionHandle> {
        self.partitions
            .lock()
            .unwrap()
            .get(&(topic.to_string(), index))
            .cloned()
    }

    /// The error code for a partition this broker does not host: NOT_LEADER_OR_FOLLOWER when
    /// the cluster map has it (another broker leads it), UNKNOWN_TOPIC_OR_PARTITION when the
    /// topic does not exist or has no partition with that index, as Kafka answers.
    pub fn missing_partition_code(&self, topic: &str, partition: i32) -> ErrorCode {
        let exists = self
            .topics
            .lock()
            .unwrap()
            .get(topic)
            .is_some_and(|t| usize::try_from(partition).is_ok_and(|p| p < t.replicas.len()));
        if exists {
            ErrorCode::NOT_LEADER_OR_FOLLOWER
        } else {
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
        }
    }

    /// Every hosted partition, in (topic, partition) order.
    pub fn partitions(&self) -> Vec<((String, i32), PartitionHandle)> {
        self.partitions
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The cluster map's entry for a topic.
    /// The leader of a partition as this broker knows it: from the metadata log with a
    /// controller, else the first replica of the static map. `None` when there is none.
    pub fn leader_of(&self, topic: &str, partition: i32) -> Option<i32> {
        if self.config.controller.is_some() {
            let metadata = self.metadata.lock().unwrap();
            let leader = metadata.as_ref()?.partition(topic, partition)?.leader;
            return (leader >= 0).then_some(leader);
        }
        let topic = self.topic(topic)?;
        topic
            .replicas
            .get(usize::try_from(partition).ok()?)?
            .first()
            .copied()
    }

    pub fn topic(&self, name: &str) -> Option<TopicAssignment> {
        self.topics.lock().unwrap().get(name).cloned()
    }

    /// A snapshot of the cluster map's topics, in name order.
    pub fn topics(&self) -> Vec<TopicAssignment> {
        self.topics.lock().unwrap().values().cloned().collect()
    }

    /// fsync every hosted partition (the `flush` fault, and controlled shutdown).
    pub async fn flush_all(&self) {
        for (_, handle) in self.partitions() {
            let _ = handle.flush().await;
        }
    }

    /// The metadata log as this broker applied it (with a controller).
    pub fn metadata(&self) -> Option<MetadataState> {
        self.metadata.lock().unwrap().clone()
    }

    fn set_metadata(&self, state: MetadataState, offset: i64) {
        let fenced: std::collections::BTreeSet<i32> = state
            .brokers
            .iter()
            .filter(|(_, broker)| broker.fenced)
            .map(|(&id, _)| id)
            .collect();
        self.fenced_brokers.send_if_changed(fenced);
        *self.metadata.lock().unwrap() = Some(state);
        self.metadata_offset
            .store(offset, std::sync::atomic::Ordering::Relaxed);
    }

    /// Milliseconds since this broker started, on the monotonic clock.
    fn monotonic_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn notify_appended(&self) {
        self.appended.send_modify(|n| *n += 1);
    }

    /// Whether a shutdown stopped this broker (see [`shut_down`]).
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// Write the replicated partitions' high watermarks to `replication-offset-checkpoint`
    /// (nothing when no partition is replicated). Returns false, with a warning, if the
    /// write failed.
    fn checkpoint_high_watermarks(&self) -> bool {
        let high_watermarks: BTreeMap<(String, i32), i64> = self
            .partitions()
            .into_iter()
            .filter(|(_, handle)| handle.replicated())
            .map(|(key, handle)| (key, handle.offsets().high_watermark))
            .collect();
        if high_watermarks.is_empty() {
            return true;
        }
        let path = HighWatermarkCheckpoint::FILE_NAME;
        match HighWatermarkCheckpoint::write(&*self.env.disk, path, &high_watermarks) {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(%error, "high-watermark checkpoint failed");
                false
            }
        }
    }
}

/// Accept connections and run log housekeeping on a timer until `shutdown` completes (SIGTERM
/// in real mode, madsim's ctrl-c in simulation), then shut down cleanly ([`shut_down`]).
pub async fn serve(
    broker: Arc<Broker>,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    tokio::spawn(housekeeping(broker.clone()));
    tokio::spawn(checkpoint_high_watermarks(broker.clone()));
    let controlled = broker.config.controller.is_some();
    for ((topic, partition), handle) in broker.partitions() {
        // Without a controller only followers ever fetch; with one, any replica may become a
        // follower, so every replicated partition gets a fetcher that waits for that.
        if (controlled && handle.replicated()) || (!controlled && !handle.is_leader()) {
            tokio::spawn(fetcher::follow(broker.clone(), topic, partition, handle));
        }
    }
    if let Some(controller) = broker.config.controller {
        let proposals = broker.isr_proposals_rx.lock().unwrap().take();
        if let Some(proposals) = proposals {
            tokio::spawn(controller_link::run(broker.clone(), controller, proposals));
        }
    }
    let mut conn_id = 0u64;
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted?,
        };
        conn_id += 1;
        let info = crate::env::ConnInfo {
            node_id: broker.config.node_id,
            conn_id,
            peer,
        };
        tokio::spawn(connection::run(broker.clone(), stream, info));
    }
    drop(listener);
    shut_down(&broker).await;
    Ok(())
}

/// Start a broker on its configured address and serve until `shutdown` completes, then shut
/// down cleanly. Returns once the clean-shutdown marker is written: the caller ends the
/// process (whatever tasks remain die with it).
pub async fn run(
    env: Env,
    config: BrokerConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let listen = config.listen;
    let broker = Broker::start(env, config)?;
    let listener = TcpListener::bind(listen).await?;
    tracing::info!(%listen, "broker listening");
    serve(broker, listener, shutdown).await
}

/// Kafka's clean shutdown, in its order. With a controller (and `controlled.shutdown.enable`),
/// heartbeats ask it to move leadership off this broker and take it out of the ISRs, and the
/// shutdown waits for its approval (at most [`BrokerConfig::controlled_shutdown_wait_ms`]).
/// Then the broker stops: requests are refused, fetchers and timers stop, every partition is
/// flushed and closed (its actor ends, so nothing appends after), the high watermarks are
/// checkpointed, and last the clean-shutdown marker records the broker epoch.
pub async fn shut_down(broker: &Arc<Broker>) {
    let trace = &broker.env.trace;
    trace.record("shutdown", b"begin");
    if broker.config.controller.is_some() && broker.config.controlled_shutdown_enable() {
        broker.shutting_down.store(true, Ordering::SeqCst);
        broker.heartbeat_now.send_modify(|n| *n += 1);
        let mut approved = broker.shutdown_approved.subscribe();
        let wait = std::time::Duration::from_millis(broker.config.controlled_shutdown_wait_ms());
        let approval = async {
            while !approved.borrow_and_update() {
                if approved.changed().await.is_err() {
                    return;
                }
            }
        };
        let approved = tokio::time::timeout(wait, approval).await.is_ok();
        trace.effect("shutdown.approved", approved as u64);
        trace.effect("shutdown.unapproved", !approved as u64);
        if !approved {
            tracing::warn!("timed out waiting for the controller to approve controlled shutdown");
        }
    }
    broker.stopped.store(true, Ordering::SeqCst);
    let mut failed = false;
    for ((topic, partition), handle) in broker.partitions() {
        if let Err(code) = handle.close().await {
            tracing::warn!(topic, partition, %code, "closing a partition failed");
            failed = true;
        }
    }
    failed |= !broker.checkpoint_high_watermarks();
    // A log that could not be flushed is not clean: leave no marker, so the next start is
    // treated as after a crash.
    let epoch = broker.broker_epoch.load(Ordering::SeqCst);
    let marked = !failed && clean_shutdown::write(&*broker.env.disk, epoch).is_ok();
    trace.effect("shutdown.clean", marked as u64);
    trace.record("shutdown", if marked { b"clean" } else { b"unclean" });
    tracing::info!(clean = marked, "broker shut down");
}

/// Write every replicated partition's high watermark to `replication-offset-checkpoint` every
/// `replica.high.watermark.checkpoint.interval.ms`, as Kafka does; a restarting follower
/// truncates to it.
async fn checkpoint_high_watermarks(broker: Arc<Broker>) {
    let interval = broker.config.high_watermark_checkpoint_interval_ms();
    let interval = std::time::Duration::from_millis(interval);
    loop {
        tokio::time::sleep(interval).await;
        if broker.is_stopped() {
            return;
        }
        broker.checkpoint_high_watermarks();
    }
}

async fn housekeeping(broker: Arc<Broker>) {
    loop {
        tokio::time::sleep(TICK_INTERVAL).await;
        if broker.is_stopped() {
            return;
        }
        for (_, handle) in broker.partitions() {
            handle.tick().await;
        }
        groups::tick(&broker);
    }
}

impl Broker {
    /// A producer id no broker of the cluster handed out before (see [`crate::txn::producer_ids`]).
    pub(crate) fn allocate_producer_id(&self) -> std::io::Result<i64> {
        let mut manager = self.producer_ids.lock().unwrap();
        if manager.is_none() {
            *manager = Some(crate::txn::ProducerIdManager::load(
                &*self.env.disk,
                self.config.node_id,
            )?);
        }
        manager
            .as_mut()
            .expect("loaded above")
            .allocate(&*self.env.disk)
    }
}

/// `min.insync.replicas` for a topic with these overrides over these broker configs (at
/// least 1).
fn min_insync_replicas_of(
    broker: &BTreeMap<String, String>,
    topic: &BTreeMap<String, String>,
) -> anyhow::Result<usize> {
    let value =
        config::int_config_of(broker, topic, "min.insync.replicas").map_err(anyhow::Error::msg)?;
    Ok(value.unwrap_or(1).max(1) as usize)
}
