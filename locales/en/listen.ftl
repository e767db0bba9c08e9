# The listen page (src/web/page.rs), the status lines its script writes, the podcast feed and the recordings' titles.

# The listen page: the live row and its states.
listen-live-heading = Live
listen-live-title = { $station } live
listen-live-play = Listen live
listen-state-on-air = On air now
listen-now-playing = Now playing: { $what }
listen-state-starting = Starting…
listen-state-no-input = Off air for the moment: the studio sends no sound

# The episode list, each episode's play button (read aloud by screen readers) and its length, and the footer.
listen-episodes = Episodes
listen-empty = No episodes yet. When the station's USB storage is plugged in, its episodes appear here by themselves.
listen-footer = Listening here also shares what you hear, live or an episode, with other listeners, so the station needs less of its own internet connection.
listen-play = Play { $title }
listen-seconds = { $n } s

# An episode's own page (/episode/...): the way back to the list, and the page for an episode no longer there.
listen-all-episodes = All episodes of { $station }
listen-episode-missing-title = Episode not found
listen-episode-missing = This episode is no longer on this station. Its other programmes are still here.

# The player: the loading bar (read aloud) and the links under it.
listen-progress = Downloaded so far
listen-download = Download
listen-other-apps = Other apps
listen-magnet = Magnet link
listen-torrent = Torrent file

# Status lines the page's script writes (src/web/assets/listen.js); the script fills the values.
listen-js-connecting = Connecting…
listen-js-stats = Episode · sources: { $sources } · { $speed } · loaded: { $loaded } · from other listeners: { $share } · shared: { $shared }
listen-js-no-sharing = Sharing between listeners does not work here; playing from the station.
listen-js-from-station = Playing from the station.
listen-js-sharing-stopped = Sharing with other listeners has stopped.
listen-js-episode-offline = This episode is offline for now: the station's copy was unplugged. It plays again when the copy is back, or from other listeners who have it.
listen-js-episode-loading = This kind of file plays only once the whole episode has loaded; loading…
listen-js-episode-paused = Paused. While this page stays open, you share what you have loaded with other listeners.
listen-js-episode-ended = The episode has ended. While this page stays open, you share it with other listeners.
listen-js-live-connecting = Connecting to the live stream…
listen-js-live-playing = Playing the live stream.
listen-js-live-from-station = Playing the live stream from the station.
listen-js-live-stats = Live · listeners connected: { $peers } · from other listeners: { $share } · shared: { $shared }
listen-js-live-fallback = The player ran into a problem; playing the live stream from the station.

# The podcast feed (src/web/feed.rs), in the station's language.
listen-feed-description = Episodes of { $station }
listen-feed-sources = Web, peer-to-peer and mirrors

# The title of a recording of what went on air (src/live/recorder.rs), in the station's language.
listen-recording-title = { $who } — { $date }, { $time }
