//! Typed settings: defaults, the TOML file, command-line overrides and validation.
//!
//! Everything is checked here, before anything binds a port or opens the database, so a
//! bad setting stops the node with one line that names the key and says how to fix it
//! (exit code 2, see `main.rs`).

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use crate::{
    i18n::{Lang, Msg, Tr},
    msg,
};

pub mod operator;
pub mod tls;

pub use tls::{Certificate, TlsConfig};

/// A setting that cannot be used, with the key it came from and what to do about it.
///
/// The config file and the command line print it in English (`Display`); the config page
/// says it in the visitor's language ([`Text::say`]). Problems the page can cause are
/// catalog messages ([`Text::Said`]), whose English is the English catalog's, so each
/// sentence is written once; keys only the file sets stay plain English.
#[derive(Debug, thiserror::Error)]
#[error("config error: `{key}`: {problem}; {fix}")]
pub struct ConfigError {
    pub key: String,
    pub problem: Text,
    pub fix: Text,
}

impl ConfigError {
    pub fn new(key: &str, problem: impl Into<Text>, fix: impl Into<Text>) -> Self {
        Self {
            key: key.to_string(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

/// A part of a [`ConfigError`]: a catalog message, or English only the file's reader sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Text {
    Said(Msg),
    English(String),
}

impl Text {
    /// In `tr`'s language (English text stays English).
    pub fn say(&self, tr: Tr) -> String {
        match self {
            Text::Said(m) => tr.say(m),
            Text::English(s) => s.clone(),
        }
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Text::Said(m) => m.fmt(f),
            Text::English(s) => f.write_str(s),
        }
    }
}

impl From<Msg> for Text {
    fn from(m: Msg) -> Self {
        Text::Said(m)
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Text::English(s)
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text::English(s.to_string())
    }
}

/// Where the live audio comes from. Only `None` is served before the live-audio work lands;
/// the others are accepted so configurations written today keep working.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioSource {
    None,
    Sine,
    Alsa(String),
    File(PathBuf),
}

impl std::str::FromStr for AudioSource {
    type Err = Msg;

    fn from_str(s: &str) -> Result<Self, Msg> {
        match s {
            "none" => Ok(Self::None),
            "sine" => Ok(Self::Sine),
            _ => match s.split_once(':') {
                Some(("alsa", dev)) if !dev.is_empty() => Ok(Self::Alsa(dev.to_string())),
                Some(("file", path)) if !path.is_empty() => Ok(Self::File(path.into())),
                _ => Err(msg!("admin-config-audio", value = s)),
            },
        }
    }
}

impl std::fmt::Display for AudioSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::None => f.write_str("none"),
            Self::Sine => f.write_str("sine"),
            Self::Alsa(d) => write!(f, "alsa:{d}"),
            Self::File(p) => write!(f, "file:{}", p.display()),
        }
    }
}

/// The whole configuration. `Default` is the documented default of `streamp2p run`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Database and swarm state; the only place the node writes.
    pub data_dir: PathBuf,
    /// Library folders to scan and seed (USB storage, read-only).
    pub library: Vec<PathBuf>,
    /// Where USB sticks are mounted, one folder each, named by the stick's label: every
    /// stick found there is shared at once and shown by its name on the config page.
    pub usb_root: PathBuf,
    /// Web pages, JSON API, web seed and HTTP tracker.
    pub http: String,
    /// The same pages, API and tracker over https (and wss), when `[tls]` gives a
    /// certificate: `public_url` an `https://` address, or certificate files.
    pub https: String,
    /// BitTorrent TCP port.
    pub peer_port: u16,
    /// UDP tracker (BEP 15) address.
    pub udp_tracker: String,
    /// The box's own STUN server (UDP), so listeners behind home routers find each other
    /// over WebRTC; `""` or `"off"`: none.
    pub stun: String,
    /// `alsa:DEVICE`, `sine`, `file:PATH` or `none`.
    pub audio: String,
    /// The base address listeners use, e.g. `http://radio.example.org`. Empty: taken from
    /// the `Host` of each request.
    pub public_url: String,
    pub station: StationConfig,
    pub scan: ScanConfig,
    pub swarm: SwarmConfig,
    pub tracker: TrackerConfig,
    pub web: WebConfig,
    pub live: LiveConfig,
    pub recording: RecordingConfig,
    pub webtorrent: WebTorrentConfig,
    pub admin: AdminConfig,
    pub federation: FederationConfig,
    pub tls: TlsConfig,
    pub update: UpdateConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: "/var/lib/streamp2p".into(),
            library: Vec::new(),
            usb_root: "/media/streamp2p".into(),
            http: "0.0.0.0:80".into(),
            https: "0.0.0.0:443".into(),
            peer_port: 6881,
            udp_tracker: "0.0.0.0:6969".into(),
            stun: "0.0.0.0:3478".into(),
            audio: "none".into(),
            public_url: String::new(),
            station: StationConfig::default(),
            scan: ScanConfig::default(),
            swarm: SwarmConfig::default(),
            tracker: TrackerConfig::default(),
            web: WebConfig::default(),
            live: LiveConfig::default(),
            recording: RecordingConfig::default(),
            webtorrent: WebTorrentConfig::default(),
            admin: AdminConfig::default(),
            federation: FederationConfig::default(),
            tls: TlsConfig::default(),
            update: UpdateConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LiveConfig {
    /// Opus bitrate of the live stream, in kb/s.
    pub bitrate_kbps: u32,
    /// 1 (mono) or 2 (stereo).
    pub channels: u8,
    /// Silence longer than this many seconds is flagged (a mixer left muted).
    pub silence_secs: u64,
    /// Record what goes on air into `<data dir>/recordings`, seeded like the library.
    pub record: bool,
    /// A recording is split into episodes of this many seconds.
    pub record_split_secs: u64,
    /// Sample rate (Hz) asked of an ALSA capture card; the stream is resampled to 48 kHz.
    /// For a digital input clocked by the mixer (often 44100), or a card whose 48 kHz
    /// mode is broken. Unset: 48 kHz where the card has it, else the card's nearest rate.
    pub capture_rate: Option<u32>,
    /// Below this RMS level (dBFS) an input counts as silent.
    pub silence_db: f32,
    /// Play the library when nobody is live (the fallback playlist).
    pub fallback: bool,
    /// Seconds of silence or no input before the fallback plays.
    pub fallback_after_secs: u64,
    /// Seconds of signal on the line-in before it takes over from the fallback again.
    pub hold_secs: u64,
    /// The fallback's folder (such as `music/jingles`, with or without its library
    /// root's folder in front); empty: the whole library.
    pub fallback_folder: String,
    /// The tracks the operator chose for the fallback, by their place in the library
    /// (`STICK/music/a.mp3`); when any of them is there, only these play, and the folder
    /// is not used.
    pub fallback_tracks: Vec<String>,
    /// The password studio PCs use to send their stream (Icecast source protocol, user
    /// `source`); empty: no source may connect.
    pub source_password: String,
    /// A connected source goes before the line-in.
    pub source_first: bool,
    /// Icecast servers the programme is sent to (`[[live.push]]`).
    pub push: Vec<PushTarget>,
}

/// The fallback's chosen tracks may be this many.
pub const MAX_FALLBACK_TRACKS: usize = 10_000;

/// Apple Podcasts' top categories, the ones podcast directories accept in `itunes:category`.
pub const PODCAST_CATEGORIES: [&str; 19] = [
    "Arts",
    "Business",
    "Comedy",
    "Education",
    "Fiction",
    "Government",
    "Health & Fitness",
    "History",
    "Kids & Family",
    "Leisure",
    "Music",
    "News",
    "Religion & Spirituality",
    "Science",
    "Society & Culture",
    "Sports",
    "Technology",
    "True Crime",
    "TV & Film",
];

/// An Icecast server the programme is pushed to: `url =
/// "icecast://source:PASSWORD@HOST:PORT/MOUNT"` and `format = "mp3"` or `"ogg"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "PushEntry", into = "PushEntry")]
pub struct PushTarget {
    pub host: String,
    pub port: u16,
    pub mount: String,
    pub user: String,
    pub password: String,
    pub format: PushFormat,
}

/// The node's own MP3 frames or Ogg Opus pages (nothing is encoded again for a push).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PushFormat {
    #[default]
    Mp3,
    Ogg,
}

impl PushFormat {
    /// What a mount's name says it carries: Ogg for `.ogg` and `.opus`, else MP3.
    pub fn for_mount(mount: &str) -> Self {
        let lower = mount.to_ascii_lowercase();
        if lower.ends_with(".ogg") || lower.ends_with(".opus") {
            PushFormat::Ogg
        } else {
            PushFormat::Mp3
        }
    }

    fn name(self) -> &'static str {
        match self {
            PushFormat::Mp3 => "mp3",
            PushFormat::Ogg => "ogg",
        }
    }
}

/// A push target as written in the config file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PushEntry {
    url: String,
    #[serde(default)]
    format: PushFormat,
}

impl TryFrom<PushEntry> for PushTarget {
    type Error = String;

    fn try_from(e: PushEntry) -> Result<Self, String> {
        let bad = |why: &str| format!("live.push url {:?}: {why}", redact(&e.url));
        let rest = e
            .url
            .strip_prefix("icecast://")
            .ok_or_else(|| bad("it must start with icecast://"))?;
        let (auth, place) = rest
            .rsplit_once('@')
            .ok_or_else(|| bad("it needs source:PASSWORD@ before the host"))?;
        let (user, password) = auth
            .split_once(':')
            .ok_or_else(|| bad("it needs source:PASSWORD@ before the host"))?;
        let (hostport, mount) = place
            .split_once('/')
            .ok_or_else(|| bad("it needs a mount after the host, such as /radio.mp3"))?;
        let (host, port) = match hostport.strip_prefix('[') {
            // An IPv6 address: [addr] or [addr]:port.
            Some(v6) => {
                let (host, after) = v6
                    .split_once(']')
                    .ok_or_else(|| bad("no ] after the address"))?;
                match after.strip_prefix(':') {
                    Some(p) => (
                        host,
                        p.parse().map_err(|_| bad("the port is not a number"))?,
                    ),
                    None if after.is_empty() => (host, 8000),
                    None => return Err(bad("the port is not a number")),
                }
            }
            None => match hostport.rsplit_once(':') {
                Some((h, p)) => (h, p.parse().map_err(|_| bad("the port is not a number"))?),
                None => (hostport, 8000),
            },
        };
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let valid_mount = mount
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '?' && c != '#');
        // A host name or an address: it goes into the URL listeners are sent to.
        let valid_host = host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '[' | ']'));
        if host.is_empty() || mount.is_empty() || !valid_mount || !valid_host || password.is_empty()
        {
            return Err(bad("it needs a host, a password and a mount"));
        }
        Ok(Self {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port,
            mount: format!("/{mount}"),
            user: decode(user),
            password: decode(password),
            format: e.format,
        })
    }
}

impl From<PushTarget> for PushEntry {
    fn from(t: PushTarget) -> Self {
        PushEntry {
            url: t.url(),
            format: t.format,
        }
    }
}

impl PushTarget {
    /// A line of the config page's list: the URL, then `ogg` or `mp3` when the mount's
    /// name does not say (`/radio.ogg` and `/radio.opus` get Ogg, others MP3).
    pub fn from_line(line: &str) -> Result<Self, String> {
        let mut words = line.split_whitespace();
        let url = words.next().unwrap_or_default().to_string();
        let named = match (words.next(), words.next()) {
            (None, _) => None,
            (Some(w), None) if w.eq_ignore_ascii_case("ogg") => Some(PushFormat::Ogg),
            (Some(w), None) if w.eq_ignore_ascii_case("mp3") => Some(PushFormat::Mp3),
            _ => {
                return Err(format!(
                    "{}: after the address only ogg or mp3",
                    redact(&url)
                ))
            }
        };
        let mut target = PushTarget::try_from(PushEntry {
            url,
            format: PushFormat::Mp3,
        })?;
        target.format = named.unwrap_or_else(|| PushFormat::for_mount(&target.mount));
        Ok(target)
    }

    /// The target as a line of the config page's list ([`PushTarget::from_line`]).
    pub fn line(&self) -> String {
        if self.format == PushFormat::for_mount(&self.mount) {
            self.url()
        } else {
            format!("{} {}", self.url(), self.format.name())
        }
    }

    /// The whole URL, password included.
    fn url(&self) -> String {
        // Only what would end the user or password: the page shows the URL as written.
        const USERINFO: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
            .add(b' ')
            .add(b'%')
            .add(b'@')
            .add(b':')
            .add(b'/')
            .add(b'?')
            .add(b'#')
            .add(b'[')
            .add(b']');
        let enc = |s: &str| percent_encoding::utf8_percent_encode(s, USERINFO).to_string();
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!(
            "icecast://{}:{}@{host}:{}{}",
            enc(&self.user),
            enc(&self.password),
            self.port,
            self.mount
        )
    }

    /// The target as shown and logged: no password.
    pub fn display(&self) -> String {
        format!("icecast://{}:{}{}", self.url_host(), self.port, self.mount)
    }

    /// The host as a URL writes it: an IPv6 address in brackets.
    fn url_host(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }

    /// Where listeners find the stream on that server: Icecast serves listeners on the port
    /// its sources use, at the mount's own path.
    pub fn listen_url(&self) -> String {
        format!("http://{}:{}{}", self.url_host(), self.port, self.mount)
    }
}

/// A push URL with its password hidden, for error messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://…@{}", &url[..s], &url[at + 1..]),
        _ => url.to_string(),
    }
}

impl LiveConfig {
    /// What one listener of the live stream takes, at the configured bitrate: bytes a second.
    pub fn bytes_per_sec(&self) -> u64 {
        u64::from(self.bitrate_kbps) * 1000 / 8
    }
}

impl Default for LiveConfig {
    fn default() -> Self {
        Self {
            bitrate_kbps: 128,
            channels: 2,
            silence_secs: 30,
            record: true,
            record_split_secs: 3600,
            capture_rate: None,
            silence_db: -40.0,
            fallback: true,
            fallback_after_secs: 10,
            hold_secs: 2,
            fallback_folder: String::new(),
            fallback_tracks: Vec::new(),
            source_password: String::new(),
            source_first: true,
            push: Vec::new(),
        }
    }
}

/// How what goes on air is recorded (`live.record` turns recording on and off).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecordingConfig {
    pub format: RecordingFormat,
    /// Free space (MB) kept on the data partition by removing the oldest recordings that
    /// are neither kept nor published; 0: the larger of 2 GB and a tenth of the partition.
    pub keep_free_mb: u64,
}

/// The recordings' file format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordingFormat {
    /// MP3 (LAME, the live stream's own MP3 frames, at `live.bitrate_kbps`): every podcast
    /// app and browser plays it, and browsers can stream it peer-to-peer through Media
    /// Source Extensions.
    #[default]
    Mp3,
    /// Ogg Opus, the live stream's own packets: smaller for the same quality, but Safari and
    /// many podcast apps do not play it.
    Opus,
}

/// Other stations' nodes this one follows (mirrors their library, lists itself as their
/// mirror).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FederationConfig {
    /// Base addresses of the nodes to follow, e.g. `http://radio-b.example.org`.
    pub follow: Vec<String>,
    /// Seconds between fetches of a followed node's catalog.
    pub poll_secs: u64,
    /// Storage for mirrored episodes, in MB; the newest are kept within it.
    pub mirror_budget_mb: u64,
    /// Seconds between health probes of every known tracker.
    pub probe_secs: u64,
    /// Relay the followed stations' live streams to this node's listeners
    /// (`/relay/<key>/live.ogg`): one copy from each origin, whatever the audience here.
    pub relay: bool,
    /// Seconds between checks of this station's mirrors (random pieces of the episodes
    /// they hold, fetched and compared); one that fails is no longer listed.
    pub mirror_check_secs: u64,
    /// A box that proved it mirrors this station is listed only once the operator
    /// approves it on the config page.
    pub approve_mirrors: bool,
    /// Let addresses learned from others (mirror claims, followed stations' mirrors and
    /// trackers) lead to private, loopback and link-local addresses. Off: anyone could
    /// otherwise make the box send requests into its own network. For sister stations on
    /// one LAN, and for tests.
    pub allow_private_addresses: bool,
}

impl Default for FederationConfig {
    fn default() -> Self {
        Self {
            follow: Vec::new(),
            poll_secs: 60,
            mirror_budget_mb: 4096,
            probe_secs: 300,
            relay: false,
            mirror_check_secs: 1800,
            approve_mirrors: false,
            allow_private_addresses: false,
        }
    }
}

/// Updates of the appliance's system (see `update`): where to look for them, and whether
/// they install by themselves. The paths are the image's; they are settings so tests and
/// other images can place them elsewhere.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpdateConfig {
    /// The update source: the address of a signed update manifest (`https://`, or plain
    /// `http://`: the signature is what is trusted). Empty: only followed stations' updates.
    pub url: String,
    /// Install a new version and restart into it at a quiet time by itself; off: only when
    /// the operator presses "Update now".
    pub automatic: bool,
    /// Seconds between checks of the update source and the followed stations.
    pub check_secs: u64,
    /// The release certificates a manifest (and a bundle, for RAUC) must be signed with.
    pub keyring: PathBuf,
    /// The RAUC command.
    pub rauc: PathBuf,
    /// The image's own version, for a slot RAUC never installed (the factory one).
    pub version_file: PathBuf,
    /// Written by the box's boot deadline when a new slot never became healthy.
    pub boot_failure_file: PathBuf,
    /// Created to ask the system for a restart (a root path unit acts on it).
    pub reboot_file: PathBuf,
}

impl Default for UpdateConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            automatic: true,
            check_secs: 6 * 3600,
            keyring: "/etc/rauc/keyring.pem".into(),
            rauc: "rauc".into(),
            version_file: "/usr/share/streamp2p/image-version".into(),
            boot_failure_file: "/var/lib/streamp2p-boot/last-failure".into(),
            reboot_file: "/run/streamp2p/reboot".into(),
        }
    }
}

/// The config page (`/admin`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Serve the config page to addresses outside the local network too. Off: only
    /// private, link-local and loopback addresses reach it (the box sits behind a home
    /// router; its owner is on the same network).
    pub allow_remote: bool,
    /// Largest file the operator may publish from the page, in MB.
    pub max_upload_mb: u64,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            allow_remote: false,
            max_upload_mb: 500,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StationConfig {
    pub name: String,
    pub description: String,
    /// What the station plays, in a few words (`Community radio`, `Jazz`): sent to Icecast
    /// servers as `ice-genre`.
    pub genre: String,
    /// The podcast feed's `itunes:category`, one of Apple's top categories (directories
    /// refuse others): see [`PODCAST_CATEGORIES`].
    pub category: String,
    /// The station's language: the feed's `<language>`, the recordings' titles, and the
    /// pages of visitors whose browsers ask for none the box speaks. Spanish unless the
    /// first-run page or the config file says otherwise.
    pub language: Lang,
}

impl Default for StationConfig {
    fn default() -> Self {
        Self {
            name: "streamp2p radio".into(),
            description: String::new(),
            genre: String::new(),
            category: "Music".into(),
            language: Lang::Es,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScanConfig {
    /// Seconds between checks of the library folders. Polling (rather than inotify) also
    /// sees a USB stick that is mounted or pulled, which inotify on the mount point does not.
    pub rescan_secs: u64,
}

impl Default for ScanConfig {
    fn default() -> Self {
        Self { rescan_secs: 10 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SwarmConfig {
    /// Seed over BitTorrent. Off: only the web seed serves the files.
    pub enabled: bool,
    /// Mainline DHT (BEP 5).
    pub dht: bool,
    /// Local service discovery (BEP 14).
    pub lsd: bool,
    /// uTP (BEP 29) beside TCP on the peer port. Off by default: librqbit 9 still marks
    /// its uTP as experimental, and TCP alone reaches every client.
    pub utp: bool,
    /// Upload limit in KiB/s; 0 means no limit.
    pub upload_limit_kib: u32,
    /// Extra trackers (http, https, udp) for every torrent, after the node's own.
    pub trackers: Vec<String>,
    /// Ask the home router (UPnP IGD, NAT-PMP or PCP) to open the node's ports to the
    /// internet while it runs (see `system::portmap`).
    pub port_mapping: bool,
    /// Seconds each port is asked for on the router; renewed at half. A box that dies
    /// leaves its ports open this long at most. 30 to 86400.
    pub port_mapping_lease_secs: u32,
    /// The network interfaces whose sent bytes are the box's uplink on the home screen
    /// (`system::uplink`); empty: every one but loopback. Name them where one interface
    /// only serves the LAN (a hotspot the box makes), so its traffic does not count.
    pub uplink_interfaces: Vec<String>,
}

impl Default for SwarmConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            dht: true,
            lsd: true,
            utp: false,
            upload_limit_kib: 0,
            trackers: Vec::new(),
            port_mapping: true,
            port_mapping_lease_secs: 3600,
            uplink_interfaces: Vec::new(),
        }
    }
}

/// Which infohashes the tracker answers for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrackerMode {
    /// Only this station's library (and later the followed nodes' ones).
    Library,
    /// Any infohash: a public tracker.
    Open,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrackerConfig {
    /// `library` (default) or `open`.
    pub mode: TrackerMode,
    /// Seconds between announces asked of BitTorrent clients (HTTP, UDP).
    pub interval_secs: u32,
    /// Seconds between announces asked of browsers (WebSocket); WebTorrent's own default.
    pub ws_interval_secs: u32,
    /// Seconds between announces asked of a browser that lacks no partner (the tracker
    /// remembers who it paired): each announce brings fresh WebRTC offers, spare then, but
    /// one, to the partner paired longest ago, once that pairing is this old.
    pub ws_settled_interval_secs: u32,
    /// A peer is dropped after its interval times this factor without an announce.
    pub expiry_factor: u32,
    /// Most peers in one announce reply.
    pub max_numwant: u32,
    /// Most swarms (infohashes) tracked at once.
    pub max_torrents: usize,
    /// Most peers kept per swarm; the stalest makes room for a new one.
    pub max_peers_per_torrent: usize,
    /// Announces and scrapes per second allowed from one IP address (bursts of ten times
    /// that pass); 0 turns the limit off.
    pub rate_limit_per_ip: u32,
    /// Most WebSocket (browser) connections at once. Every listen page sharing the live
    /// stream holds one, and a page joining again opens its next before the last is seen
    /// closed: a box meant to carry 1,000 live listeners needs room above 1,000. Each costs
    /// about 12 KB (benches/README.md, `ws-mem`), and 4 to 5 KB more once it has been sent
    /// compressed messages (the window they are compressed against, `ws-deflate`).
    pub max_ws_connections: usize,
    /// Largest WebSocket message accepted, in bytes (an offer with its SDP is about 1-4 KiB).
    pub max_ws_message_bytes: usize,
    /// A WebSocket with no message for this long is closed.
    pub ws_idle_secs: u64,
    /// Messages per second one WebSocket may send (bursts of five times that pass); a
    /// socket that sends more is closed. A browser sends one every couple of minutes.
    pub ws_messages_per_sec: u32,
    /// Moved to `web.trust_forwarded_for` (the config page judges by it too); still read
    /// from older files by [`Config::from_toml`], never written.
    #[serde(rename = "trust_forwarded_for", skip_serializing)]
    moved_trust_forwarded_for: Option<bool>,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            mode: TrackerMode::Library,
            interval_secs: 300,
            ws_interval_secs: 120,
            ws_settled_interval_secs: 600,
            expiry_factor: 2,
            max_numwant: 80,
            max_torrents: 10_000,
            max_peers_per_torrent: 2_000,
            rate_limit_per_ip: 50,
            max_ws_connections: 2_500,
            max_ws_message_bytes: 64 * 1024,
            ws_idle_secs: 300,
            ws_messages_per_sec: 20,
            moved_trust_forwarded_for: None,
        }
    }
}

/// The HTTP front end: pages, config page, JSON API, web seed and the tracker's HTTP and
/// WebSocket ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// Take the client address from `X-Forwarded-For` (only behind a trusted reverse
    /// proxy): the tracker lists peers at it, and the config page's local-network rule
    /// and login limit judge by it.
    pub trust_forwarded_for: bool,
    /// Most connections open at once, from everyone. Lowered at start when the system's
    /// open-files limit would not leave room for the library and the swarm.
    pub max_connections: usize,
    /// Most unfinished requests and open WebSockets from one address (an IPv6 client is
    /// counted by its /64). Its connections beyond this many are only taken while the
    /// server is less than half full, so one address cannot fill it.
    pub max_per_address: usize,
    /// A connection with no request under way that sends nothing for this long is closed.
    pub idle_secs: u64,
    /// A request's headers must have arrived this long after the server began waiting for
    /// them (the connection opened, or the previous answer went out). At least `idle_secs`.
    pub header_timeout_secs: u64,
    /// A request body (an upload chunk, a live source) that sends nothing for this long
    /// is dropped. Counted between reads, never in total: a live source never ends.
    pub body_idle_secs: u64,
    /// An answer the client takes nothing of for this long is dropped.
    pub send_timeout_secs: u64,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            trust_forwarded_for: false,
            max_connections: 4096,
            max_per_address: 256,
            idle_secs: 15,
            header_timeout_secs: 30,
            body_idle_secs: 30,
            send_timeout_secs: 120,
        }
    }
}

impl WebConfig {
    fn check(&self) -> Result<(), ConfigError> {
        if !(64..=1_000_000).contains(&self.max_connections) {
            return Err(ConfigError::new(
                "web.max_connections",
                format!("{} connections is not a usable limit", self.max_connections),
                "use a number from 64 to 1000000, such as 4096",
            ));
        }
        if self.max_per_address < 8 || self.max_per_address > self.max_connections {
            return Err(ConfigError::new(
                "web.max_per_address",
                format!(
                    "{} is below 8 (one browser page asks several things at once) or above \
                     web.max_connections",
                    self.max_per_address
                ),
                "use 256",
            ));
        }
        for (key, secs) in [
            ("web.idle_secs", self.idle_secs),
            ("web.header_timeout_secs", self.header_timeout_secs),
            ("web.body_idle_secs", self.body_idle_secs),
            ("web.send_timeout_secs", self.send_timeout_secs),
        ] {
            if !(1..=3600).contains(&secs) {
                return Err(ConfigError::new(
                    key,
                    format!("{secs} seconds is not a usable wait"),
                    "use a number of seconds from 1 to 3600",
                ));
            }
        }
        if self.header_timeout_secs < self.idle_secs {
            return Err(ConfigError::new(
                "web.header_timeout_secs",
                "it is shorter than web.idle_secs, so idle connections would be cut sooner than \
                 idle_secs says",
                "make it at least web.idle_secs, such as 30",
            ));
        }
        Ok(())
    }
}

/// The node's own WebTorrent peer: it seeds the library to browsers over WebRTC.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebTorrentConfig {
    /// Seed the library to WebTorrent (browser) peers over WebRTC.
    pub enabled: bool,
    /// Most WebRTC peers connected (or connecting) at once.
    pub max_peers: usize,
    /// Most peers unchoked (downloading) at once; the others wait for a free slot.
    pub upload_slots: usize,
    /// Extra WebSocket trackers (`wss://...`) to announce the library to, besides the
    /// node's own tracker.
    pub trackers: Vec<String>,
    /// Other STUN servers (`stun:host:port`), given to listen pages and the node's WebRTC
    /// peer instead of the box's own (the top-level `stun`). None by default.
    pub stun: Vec<String>,
    /// A peer that sends nothing for this long is dropped.
    pub idle_secs: u64,
    /// Let listeners serve each other first: a WebRTC peer is shown only the pieces no
    /// other connected peer holds, the rest once it gets nothing new for `share_wait_secs`.
    /// Off: every peer is shown every piece at once.
    pub share_first: bool,
    /// How long a peer may go without a new piece before it is shown every piece.
    pub share_wait_secs: u64,
}

impl Default for WebTorrentConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_peers: 50,
            upload_slots: 8,
            trackers: Vec::new(),
            stun: Vec::new(),
            idle_secs: 120,
            share_first: true,
            share_wait_secs: 10,
        }
    }
}

/// The command-line flags that every subcommand shares; each overrides its config key.
#[derive(Debug, Default, Clone, clap::Args)]
pub struct Overrides {
    /// Database and swarm state directory.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// A library folder to seed (repeatable).
    #[arg(long = "library", value_name = "DIR")]
    pub library: Vec<PathBuf>,
    /// HTTP address for pages, API, web seed and tracker.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<String>,
    /// HTTPS address (used when public_url is https:// or certificate files are set).
    #[arg(long, value_name = "ADDR")]
    pub https: Option<String>,
    /// BitTorrent TCP port.
    #[arg(long, value_name = "N")]
    pub peer_port: Option<u16>,
    /// UDP tracker address.
    #[arg(long, value_name = "ADDR")]
    pub udp_tracker: Option<String>,
    /// The box's STUN server address, or `off`.
    #[arg(long, value_name = "ADDR")]
    pub stun: Option<String>,
    /// Live audio source: alsa:DEVICE, sine, file:PATH or none.
    #[arg(long, value_name = "SRC")]
    pub audio: Option<String>,
    /// Another station's node to follow and mirror, by its address (repeatable).
    #[arg(long = "follow", value_name = "URL")]
    pub follow: Vec<String>,
}

/// The configuration after validation: the types the rest of the node works with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub library: Vec<PathBuf>,
    pub usb_root: PathBuf,
    pub http: SocketAddr,
    /// The https listener and its certificate; `None` when https is off.
    pub https: Option<(SocketAddr, Certificate)>,
    pub peer_port: u16,
    pub udp_tracker: SocketAddr,
    /// Where the box answers STUN; `None` when off.
    pub stun: Option<SocketAddr>,
    pub audio: AudioSource,
    pub public_url: Option<String>,
    pub station: StationConfig,
    pub scan: ScanConfig,
    pub swarm: SwarmConfig,
    pub tracker: TrackerConfig,
    pub web: WebConfig,
    pub live: LiveConfig,
    pub recording: RecordingConfig,
    pub webtorrent: WebTorrentConfig,
    pub admin: AdminConfig,
    pub federation: FederationConfig,
    pub update: UpdateConfig,
}

impl Config {
    /// Reads a TOML file. Unknown keys are refused, so a typo never silently does nothing.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new(
                "--config",
                format!("cannot read {}: {e}", path.display()),
                "give the path of a readable TOML file",
            )
        })?;
        Self::from_toml(&text)
    }

    /// Parses a config file's text; keys that moved are taken over under their new name.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let mut config: Self = toml::from_str(text).map_err(|e| {
            let msg = e.message().to_string();
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            let key = msg
                .strip_prefix("unknown field `")
                .and_then(|r| r.split('`').next())
                .unwrap_or("config file")
                .to_string();
            let at = line.map(|l| format!(" (line {l})")).unwrap_or_default();
            // "unknown field `x`, expected one of ..." lists every key: the README does that.
            let problem = msg
                .lines()
                .next()
                .unwrap_or("invalid TOML")
                .split(", expected one of")
                .next()
                .unwrap_or_default()
                .replace("unknown field", "unknown key");
            ConfigError::new(
                &key,
                format!("{problem}{at}"),
                "fix or remove it; README.md lists every key",
            )
        })?;
        if let Some(trust) = config.tracker.moved_trust_forwarded_for.take() {
            // Either key set to true trusts the proxy: the new key's `false` is also its
            // default, so it cannot tell "left out" from "turned off".
            config.web.trust_forwarded_for |= trust;
            tracing::warn!(
                "config key `tracker.trust_forwarded_for` has moved to `web.trust_forwarded_for` \
                 (it applies to the config page too); please rename it"
            );
        }
        Ok(config)
    }

    pub fn apply(&mut self, o: Overrides) {
        if let Some(d) = o.data_dir {
            self.data_dir = d;
        }
        if !o.library.is_empty() {
            self.library = o.library;
        }
        if let Some(h) = o.http {
            self.http = h;
        }
        if let Some(h) = o.https {
            self.https = h;
        }
        if let Some(p) = o.peer_port {
            self.peer_port = p;
        }
        if let Some(u) = o.udp_tracker {
            self.udp_tracker = u;
        }
        if let Some(s) = o.stun {
            self.stun = s;
        }
        if let Some(a) = o.audio {
            self.audio = a;
        }
        if !o.follow.is_empty() {
            self.federation.follow = o.follow;
        }
    }

    /// Checks every value and turns the configuration into `Settings`.
    pub fn validate(self) -> Result<Settings, ConfigError> {
        let http = parse_addr("http", &self.http)?;
        let udp_tracker = parse_addr("udp_tracker", &self.udp_tracker)?;
        let stun = match self.stun.trim() {
            "" | "off" => None,
            s => match parse_addr("stun", s)? {
                a if a.port() == 0 => {
                    return Err(ConfigError::new(
                        "stun",
                        "port 0 would change at every start",
                        "choose a fixed port, such as 0.0.0.0:3478: pages name it and the router maps it",
                    ))
                }
                a => Some(a),
            },
        };
        let audio = self
            .audio
            .parse::<AudioSource>()
            .map_err(|e| ConfigError::new("audio", e, msg!("admin-config-audio-fix")))?;
        for root in &self.library {
            check_library_dir(root)?;
        }
        // Missing is fine (no stick was ever plugged in); relative is not.
        if !self.usb_root.is_absolute() {
            return Err(ConfigError::new(
                "usb_root",
                "the USB sticks' folder must be a full path",
                "write it from the root, such as /media/streamp2p",
            ));
        }
        let public_url = match self.public_url.trim_end_matches('/') {
            "" => None,
            u if u.starts_with("http://") || u.starts_with("https://") => Some(u.to_string()),
            u => {
                return Err(ConfigError::new(
                    "public_url",
                    msg!("admin-config-public-url", value = u),
                    msg!("admin-config-public-url-fix"),
                ))
            }
        };
        let https = match self.tls.certificate(public_url.as_deref())? {
            Some(cert) => Some((parse_addr("https", &self.https)?, cert)),
            None => None,
        };
        for t in &self.swarm.trackers {
            if !(t.starts_with("http://") || t.starts_with("https://") || t.starts_with("udp://")) {
                return Err(ConfigError::new(
                    "swarm.trackers",
                    msg!("admin-config-tracker", value = t.as_str()),
                    msg!("admin-config-tracker-fix"),
                ));
            }
        }
        if self.scan.rescan_secs == 0 {
            return Err(ConfigError::new(
                "scan.rescan_secs",
                "0 would rescan without pause",
                "use 1 or more seconds",
            ));
        }
        let t = &self.tracker;
        if t.interval_secs == 0
            || t.ws_interval_secs == 0
            || t.ws_settled_interval_secs == 0
            || t.expiry_factor == 0
        {
            return Err(ConfigError::new(
                "tracker.interval_secs",
                "announce intervals and the expiry factor must be above 0",
                "use for example interval_secs = 300 and expiry_factor = 2",
            ));
        }
        if t.max_torrents == 0 || t.max_peers_per_torrent == 0 || t.max_ws_connections == 0 {
            return Err(ConfigError::new(
                "tracker.max_torrents",
                "tracker limits must be above 0",
                "raise max_torrents, max_peers_per_torrent and max_ws_connections",
            ));
        }
        if t.max_ws_message_bytes < 4096 {
            return Err(ConfigError::new(
                "tracker.max_ws_message_bytes",
                "below 4096 bytes a browser's offer does not fit",
                "use 65536",
            ));
        }
        for f in &self.federation.follow {
            if !(f.starts_with("http://") || f.starts_with("https://")) || f.len() > 300 {
                return Err(ConfigError::new(
                    "federation.follow",
                    msg!("admin-config-follow", value = f.as_str()),
                    msg!("admin-config-follow-fix"),
                ));
            }
        }
        if self.federation.probe_secs < 5 {
            return Err(ConfigError::new(
                "federation.probe_secs",
                "probing trackers more than every 5 seconds is too often",
                "use 300",
            ));
        }
        if self.federation.poll_secs < 5 {
            return Err(ConfigError::new(
                "federation.poll_secs",
                "polling a followed node more than every 5 seconds is too often",
                "use 60",
            ));
        }
        if self.federation.mirror_check_secs < 5 {
            return Err(ConfigError::new(
                "federation.mirror_check_secs",
                "checking mirrors more than every 5 seconds is too often",
                "use 1800",
            ));
        }
        if self.admin.max_upload_mb == 0 || self.admin.max_upload_mb > 16 * 1024 {
            return Err(ConfigError::new(
                "admin.max_upload_mb",
                msg!("admin-config-max-upload", mb = self.admin.max_upload_mb),
                msg!("admin-config-max-upload-fix"),
            ));
        }
        if self.station.name.trim().is_empty() || self.station.name.chars().count() > 100 {
            return Err(ConfigError::new(
                "station.name",
                msg!("admin-config-station-name"),
                msg!("admin-config-station-name-fix"),
            ));
        }
        if self.station.description.chars().count() > 2000 {
            return Err(ConfigError::new(
                "station.description",
                msg!("admin-config-description"),
                msg!("admin-config-description-fix"),
            ));
        }
        if t.ws_messages_per_sec == 0 {
            return Err(ConfigError::new(
                "tracker.ws_messages_per_sec",
                "0 would close every browser's tracker connection",
                "use 20",
            ));
        }
        if !(1..=2).contains(&self.live.channels) {
            return Err(ConfigError::new(
                "live.channels",
                format!("{} channels are not supported", self.live.channels),
                "use 1 (mono) or 2 (stereo)",
            ));
        }
        if !(16..=510).contains(&self.live.bitrate_kbps) {
            return Err(ConfigError::new(
                "live.bitrate_kbps",
                msg!("admin-config-bitrate", kbps = self.live.bitrate_kbps),
                msg!("admin-config-bitrate-fix"),
            ));
        }
        if let Some(r) = self
            .live
            .capture_rate
            .filter(|r| !(8_000..=192_000).contains(r))
        {
            return Err(ConfigError::new(
                "live.capture_rate",
                format!("{r} Hz is not a sound card's rate"),
                "use the card's rate, such as 44100, or leave it out for 48 kHz",
            ));
        }
        if !PODCAST_CATEGORIES.contains(&self.station.category.as_str()) {
            return Err(ConfigError::new(
                "station.category",
                format!("{:?} is not a podcast category", self.station.category),
                format!("use one of: {}", PODCAST_CATEGORIES.join(", ")),
            ));
        }
        if !(-90.0..=0.0).contains(&self.live.silence_db) {
            return Err(ConfigError::new(
                "live.silence_db",
                format!(
                    "{} dBFS is not a level between -90 and 0",
                    self.live.silence_db
                ),
                "use -40",
            ));
        }
        if !(1..=3600).contains(&self.live.fallback_after_secs) || self.live.hold_secs > 600 {
            return Err(ConfigError::new(
                "live.fallback_after_secs",
                "the fallback must wait 1 s to an hour, and the line-in's hold be at most 10 \
                 minutes",
                "use fallback_after_secs = 10 and hold_secs = 2",
            ));
        }
        if self.live.fallback_tracks.len() > MAX_FALLBACK_TRACKS
            || self.live.fallback_tracks.iter().any(|t| t.len() > 4096)
        {
            return Err(ConfigError::new(
                "live.fallback_tracks",
                format!("the fallback's list may hold {MAX_FALLBACK_TRACKS} tracks"),
                "choose a folder (fallback_folder) for a longer list",
            ));
        }
        if self.live.record_split_secs < 10 {
            return Err(ConfigError::new(
                "live.record_split_secs",
                "recordings shorter than 10 seconds are not kept",
                "use 3600 for hour-long episodes",
            ));
        }
        if !(30..=86_400).contains(&self.swarm.port_mapping_lease_secs) {
            return Err(ConfigError::new(
                "swarm.port_mapping_lease_secs",
                "it must be 30 seconds to a day: shorter, a router that is slow to answer \
                 once closes the ports; longer, a box that dies leaves them open for days",
                "use 3600",
            ));
        }
        if self.peer_port == 0 && self.swarm.enabled {
            return Err(ConfigError::new(
                "peer_port",
                "0 is not a port clients can reach",
                "use a fixed port such as 6881",
            ));
        }
        self.web.check()?;
        let w = &self.webtorrent;
        for t in &w.trackers {
            if !(t.starts_with("ws://") || t.starts_with("wss://")) {
                return Err(ConfigError::new(
                    "webtorrent.trackers",
                    format!("'{t}' is not a WebSocket tracker address"),
                    "write each like wss://tracker.example.org/announce",
                ));
            }
        }
        for s in &w.stun {
            let rest = s.strip_prefix("stun:").or_else(|| s.strip_prefix("stuns:"));
            if rest.is_none_or(|r| r.is_empty()) {
                return Err(ConfigError::new(
                    "webtorrent.stun",
                    format!("'{s}' is not a STUN server address"),
                    "write each like stun:stun.example.org:3478",
                ));
            }
        }
        if self.update.check_secs < 10 {
            return Err(ConfigError::new(
                "update.check_secs",
                "below 10 seconds the update source would be asked without pause",
                "use 21600 (six hours)",
            ));
        }
        if w.max_peers == 0 || w.upload_slots == 0 {
            return Err(ConfigError::new(
                "webtorrent.max_peers",
                "max_peers and upload_slots must be above 0",
                "use for example max_peers = 50 and upload_slots = 8, or enabled = false",
            ));
        }
        if w.idle_secs < 10 {
            return Err(ConfigError::new(
                "webtorrent.idle_secs",
                "below 10 seconds a quiet peer is dropped before its keep-alive comes",
                "use 120",
            ));
        }
        if !(1..=60).contains(&w.share_wait_secs) {
            return Err(ConfigError::new(
                "webtorrent.share_wait_secs",
                "it must be 1 to 60 seconds: shorter, listeners have no time to find each \
                 other; longer, a listener nobody serves waits too long for the station",
                "use 10",
            ));
        }
        Ok(Settings {
            data_dir: self.data_dir,
            library: self.library,
            usb_root: self.usb_root,
            http,
            https,
            peer_port: self.peer_port,
            udp_tracker,
            stun,
            audio,
            public_url,
            station: self.station,
            scan: self.scan,
            swarm: self.swarm,
            tracker: self.tracker,
            web: self.web,
            live: self.live,
            recording: self.recording,
            webtorrent: self.webtorrent,
            admin: self.admin,
            federation: self.federation,
            update: self.update,
        })
    }
}

fn parse_addr(key: &str, value: &str) -> Result<SocketAddr, ConfigError> {
    value.parse().map_err(|_| {
        ConfigError::new(
            key,
            format!("'{value}' is not an address"),
            "use IP:PORT such as 0.0.0.0:80 or [::]:80",
        )
    })
}

fn check_library_dir(root: &Path) -> Result<(), ConfigError> {
    let shown = root.display();
    match std::fs::read_dir(root) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(ConfigError::new(
            "library",
            msg!("admin-config-library-missing", folder = shown.to_string()),
            msg!("admin-config-library-missing-fix"),
        )),
        Err(e) => Err(ConfigError::new(
            "library",
            msg!(
                "admin-config-library-unreadable",
                folder = shown.to_string(),
                error = e.to_string()
            ),
            msg!("admin-config-library-unreadable-fix"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_round_trips_through_toml() {
        let text = toml::to_string(&Config::default()).unwrap();
        let back = Config::from_toml(&text).unwrap();
        assert_eq!(toml::to_string(&back).unwrap(), text);
    }

    #[test]
    fn unknown_key_is_named() {
        let e = Config::from_toml("http = \"127.0.0.1:80\"\nbogus = 1\n").unwrap_err();
        assert_eq!(e.key, "bogus");
        assert!(e.to_string().contains("line 2"), "{e}");
    }

    #[test]
    fn unknown_nested_key_is_named() {
        let e = Config::from_toml("[swarm]\ndth = true\n").unwrap_err();
        assert_eq!(e.key, "dth");
    }

    #[test]
    fn bad_address_names_the_key() {
        let c = Config {
            http: "notanaddress".into(),
            ..Default::default()
        };
        assert_eq!(c.validate().unwrap_err().key, "http");
    }

    #[test]
    fn missing_library_names_the_key() {
        let c = Config {
            library: vec!["/nonexistent/streamp2p/library".into()],
            ..Default::default()
        };
        assert_eq!(c.validate().unwrap_err().key, "library");
    }

    #[test]
    fn flags_override_file() {
        let mut c = Config::from_toml("peer_port = 7000\nhttp = \"127.0.0.1:1\"").unwrap();
        c.apply(Overrides {
            peer_port: Some(7001),
            ..Default::default()
        });
        assert_eq!(c.peer_port, 7001);
        assert_eq!(c.http, "127.0.0.1:1");
    }

    #[test]
    fn web_server_limits_are_checked() {
        let bad = |toml: &str| Config::from_toml(toml).unwrap().validate().unwrap_err().key;
        assert_eq!(bad("[web]\nmax_connections = 10"), "web.max_connections");
        assert_eq!(bad("[web]\nmax_per_address = 2"), "web.max_per_address");
        assert_eq!(
            bad("[web]\nmax_connections = 100\nmax_per_address = 200"),
            "web.max_per_address"
        );
        assert_eq!(bad("[web]\nbody_idle_secs = 0"), "web.body_idle_secs");
        assert_eq!(
            bad("[web]\nidle_secs = 60\nheader_timeout_secs = 10"),
            "web.header_timeout_secs"
        );
        let ok = Config::from_toml("[web]\nmax_per_address = 5000\nmax_connections = 8192\n")
            .unwrap()
            .validate()
            .unwrap();
        assert_eq!(ok.web.max_per_address, 5000);
        assert_eq!(
            Config::default().validate().unwrap().web.max_connections,
            4096
        );
    }

    #[test]
    fn stun_is_on_by_default_and_can_be_turned_off() {
        let stun = |toml: &str| Config::from_toml(toml).unwrap().validate().map(|s| s.stun);
        assert_eq!(stun("").unwrap(), Some("0.0.0.0:3478".parse().unwrap()));
        assert_eq!(stun("stun = \"off\"").unwrap(), None);
        assert_eq!(stun("stun = \"\"").unwrap(), None);
        assert_eq!(
            stun("stun = \"[::]:3479\"").unwrap(),
            Some("[::]:3479".parse().unwrap())
        );
        assert_eq!(stun("stun = \"3478\"").unwrap_err().key, "stun");
        assert_eq!(stun("stun = \"0.0.0.0:0\"").unwrap_err().key, "stun");
    }

    #[test]
    fn the_port_mapping_lease_is_checked() {
        let bad = |toml: &str| Config::from_toml(toml).unwrap().validate().unwrap_err().key;
        for secs in [0, 29, 86_401] {
            assert_eq!(
                bad(&format!("[swarm]\nport_mapping_lease_secs = {secs}")),
                "swarm.port_mapping_lease_secs"
            );
        }
        let ok = Config::from_toml("[swarm]\nport_mapping_lease_secs = 30").unwrap();
        assert_eq!(ok.validate().unwrap().swarm.port_mapping_lease_secs, 30);
    }

    #[test]
    fn webtorrent_settings_are_checked() {
        let bad = |toml: &str| Config::from_toml(toml).unwrap().validate().unwrap_err().key;
        assert_eq!(
            bad("[webtorrent]\ntrackers = [\"http://t/announce\"]"),
            "webtorrent.trackers"
        );
        assert_eq!(bad("[webtorrent]\nstun = [\"stun:\"]"), "webtorrent.stun");
        assert_eq!(bad("[webtorrent]\nmax_peers = 0"), "webtorrent.max_peers");
        assert_eq!(bad("[webtorrent]\nidle_secs = 1"), "webtorrent.idle_secs");
        for wait in [0, 61] {
            assert_eq!(
                bad(&format!("[webtorrent]\nshare_wait_secs = {wait}")),
                "webtorrent.share_wait_secs"
            );
        }
        let ok = Config::from_toml(
            "[webtorrent]\ntrackers = [\"wss://t.example/announce\"]\nstun = [\"stun:s.example:3478\"]",
        )
        .unwrap()
        .validate()
        .unwrap();
        assert_eq!(ok.webtorrent.stun.len(), 1);
    }

    #[test]
    fn moved_forwarded_for_key_is_read_with_one_warning() {
        let (c, logs) = crate::testing::capture_logs(|| {
            Config::from_toml("[tracker]\ntrust_forwarded_for = true\n")
        });
        let c = c.unwrap();
        assert!(c.web.trust_forwarded_for);
        assert!(c.clone().validate().unwrap().web.trust_forwarded_for);
        assert_eq!(logs.matches("WARN").count(), 1, "{logs}");
        assert!(logs.contains("web.trust_forwarded_for"), "{logs}");
        // Written back under the new key only, and read again without a warning.
        let text = toml::to_string(&c).unwrap();
        assert_eq!(text.matches("trust_forwarded_for").count(), 1, "{text}");
        let (again, logs) = crate::testing::capture_logs(|| Config::from_toml(&text));
        assert!(again.unwrap().web.trust_forwarded_for);
        assert!(logs.is_empty(), "{logs}");
        // The old key's `false` does not undo the new key.
        let both = "[tracker]\ntrust_forwarded_for = false\n[web]\ntrust_forwarded_for = true\n";
        assert!(Config::from_toml(both).unwrap().web.trust_forwarded_for);
    }

    #[test]
    fn page_errors_print_english_and_are_said_in_the_visitors_language() {
        let e = Config {
            public_url: "ftp://x".into(),
            ..Config::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "config error: `public_url`: 'ftp://x' is not an http(s) address; write it like \
             http://radio.example.org, or leave it empty"
        );
        assert_eq!(
            e.problem.say(Lang::Es.tr()),
            "«ftp://x» no es una dirección http(s)"
        );
        // A key only the file sets stays English on the page too.
        let file_only = ConfigError::new("scan.rescan_secs", "0 would rescan", "use 1");
        assert_eq!(file_only.fix.say(Lang::Eu.tr()), "use 1");
    }

    #[test]
    fn audio_sources_parse() {
        assert_eq!(
            "alsa:hw:1,0".parse::<AudioSource>().unwrap(),
            AudioSource::Alsa("hw:1,0".into())
        );
        assert_eq!("sine".parse::<AudioSource>().unwrap(), AudioSource::Sine);
        assert!("alsa:".parse::<AudioSource>().is_err());
        assert!("mic".parse::<AudioSource>().is_err());
    }

    #[test]
    fn push_lines_of_the_page_say_their_format_only_when_the_mount_does_not() {
        let ogg =
            PushTarget::from_line("icecast://source:p%40ss@h.example:8443/radio.ogg").unwrap();
        assert_eq!(
            (ogg.format, ogg.password.as_str()),
            (PushFormat::Ogg, "p@ss")
        );
        assert_eq!(PushTarget::from_line(&ogg.line()).unwrap(), ogg);
        let plain = PushTarget::from_line("  icecast://source:x@h/live  ogg ").unwrap();
        assert_eq!((plain.format, plain.port), (PushFormat::Ogg, 8000));
        assert!(plain.line().ends_with("/live ogg"), "{}", plain.line());
        assert_eq!(PushTarget::from_line(&plain.line()).unwrap(), plain);
        let mp3 = PushTarget::from_line("icecast://source:x@h/radio").unwrap();
        assert_eq!(mp3.format, PushFormat::Mp3);
        assert!(!mp3.line().ends_with("mp3"));
        let e = PushTarget::from_line("icecast://source:secret@h/r.mp3 loud").unwrap_err();
        assert!(!e.contains("secret"), "{e}");
        assert!(PushTarget::from_line("http://h/r.mp3").is_err());
    }

    #[test]
    fn push_targets_parse_and_hide_their_password() {
        let c = Config::from_toml(
            "[[live.push]]\nurl = \"icecast://source:p%40ss@stream.example.org:8443/radio.mp3\"\n\
             [[live.push]]\nurl = \"icecast://me:x@[::1]/r.ogg\"\nformat = \"ogg\"\n",
        )
        .unwrap();
        let [a, b] = &c.live.push[..] else {
            panic!("{:?}", c.live.push)
        };
        assert_eq!(
            (a.host.as_str(), a.port, a.mount.as_str(), a.user.as_str()),
            ("stream.example.org", 8443, "/radio.mp3", "source")
        );
        assert_eq!((a.password.as_str(), a.format), ("p@ss", PushFormat::Mp3));
        assert_eq!(
            (b.host.as_str(), b.port, b.format),
            ("::1", 8000, PushFormat::Ogg)
        );
        assert_eq!(b.display(), "icecast://[::1]:8000/r.ogg");
        // Listeners are sent to the same server and mount, without the password.
        assert_eq!(b.listen_url(), "http://[::1]:8000/r.ogg");
        assert_eq!(a.listen_url(), "http://stream.example.org:8443/radio.mp3");
        // Written back and read again the same.
        let again = Config::from_toml(&toml::to_string(&c).unwrap()).unwrap();
        assert_eq!(again.live.push, c.live.push);
        for bad in [
            "http://source:x@h/m",
            "icecast://h:8000/m",
            "icecast://source:x@h:port/m",
            "icecast://source:x@bad host:8000/m",
            "icecast://source:x@h:8000",
        ] {
            let e = Config::from_toml(&format!("[[live.push]]\nurl = \"{bad}\"\n"))
                .unwrap_err()
                .to_string();
            assert!(!e.contains(":x@"), "the password shows: {e}");
        }
    }
}
