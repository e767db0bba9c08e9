# The dashboard (/admin once logged in): every section, its notices and warnings, and the
# words its script writes.

# Page title, header and the section links.
dash-title = { $station } – settings
dash-log-out = Log out
dash-nav = Sections
dash-task-home = Home
dash-task-sound = Sound and live
dash-task-episodes = Episodes
dash-task-schedule = Schedule
dash-task-share = Share
dash-task-storage = USB and storage
dash-task-sisters = Sister stations
dash-task-settings = Settings
dash-task-technical = Technical
dash-task-title = { $task } · { $station }
dash-welcome-step = Step { $n } of { $of }
dash-welcome-sound-title = Where does the sound come from?
dash-welcome-sound = Choose the sound input and save. The meter moves with the sound coming in, and Listen plays what listeners will hear.
dash-welcome-share-title = How will listeners reach the station?
dash-welcome-share = People on this Wi-Fi can open the links below right away. For listeners anywhere, write the box's public address (your internet router's, or your own domain) under Public address, or leave it for later.
dash-welcome-next = Next
dash-welcome-finish = Finish
dash-back-home = ‹ Home
dash-sound-title = Sound input and live
dash-swarm-title = Sharing figures
dash-technical-title = Technical settings

# What the last change did (green notice at the top).
dash-done-saved = Saved. The change is in use now.
dash-done-restarting = Saved. The station restarts its audio and library services to use it: back in a few seconds.
dash-done-schedule = The schedule is saved; the next recordings are named after it.
dash-done-episode = The episode's title and notes are saved.
dash-done-mirror-approved = The mirror is approved: listeners' apps can download from it now.
dash-done-mirror-removed = The mirror is removed. It is not listed again until you allow it under Sister stations.
dash-done-mirror-allowed = The box may mirror this station again once it proves it.

# Warnings (red, at the top): what is wrong and what to do.
dash-warn-settings-unreadable = The saved settings cannot be read, so the box runs on its defaults. Save your settings again under Settings.
dash-warn-settings-unusable = Your saved settings could not be used ({ $problem }; { $fix }), so the box runs on its defaults until you change them under Settings.
dash-warn-usb-removed = { $n ->
    [one] USB stick { $label } removed: its episode is offline until it comes back.
   *[other] USB stick { $label } removed: its { $n } episodes are offline until it comes back.
}
dash-warn-no-input = No sound input: the sound card is not answering. Check that it is plugged in; the box tries again every few seconds and goes back on air by itself.
dash-warn-silence = { $secs ->
    [one] Silence on air for 1 second. Is the mixer's output muted or its fader down?
   *[other] Silence on air for { $secs } seconds. Is the mixer's output muted or its fader down?
}
dash-warn-push-unreachable = The Icecast server { $server } cannot be reached. The box tries again by itself in { $secs } s.
dash-warn-push-refused = The Icecast server { $server } refused the stream. Check its password and mount point in the box's settings.
dash-warn-push-dropped = The stream to the Icecast server { $server } was cut. The box sends it again in { $secs } s.
dash-warn-overflow = The box's internet connection is full. New listeners using radio apps or the direct stream link now go to the Icecast server { $server } (sent there so far: { $n }). Those already listening stay. It stops by itself when there is room again.
dash-warn-full-no-relay = The box's internet connection is full: listeners using radio apps or the direct stream link may hear gaps. To send new ones elsewhere when this happens, add an Icecast server under “Also send the stream to Icecast servers”.
dash-warn-usb-missing = USB storage missing: { $path }. Plug it back in: its episodes come back without being read again.
dash-warn-disk-full = The box's own storage is almost full ({ $free } left). Delete old recordings or uploads, or use a bigger card.
dash-warn-disk-hours = At the current rate the box's storage is full in about { $hours } hours, and no old recording is left that it may remove. Delete uploads, untick “keep” on old recordings, or use a bigger card.
dash-warn-recorder-paused = Recording is paused: the box's storage is full. The stream goes on. Free some space and recording starts again by itself.
dash-warn-browser-tracker = Web listeners cannot find each other right now: the box cannot reach its meeting point for browsers. Check the box's internet connection.
dash-warn-unreadable = { $n ->
    [one] 1 file in the library could not be read; it is listed under Library. The others are fine.
   *[other] { $n } files in the library could not be read; they are listed under Library. The others are fine.
}

# On air: the live state, the level meter, the listeners and the day's graphs.
dash-air-title = On air
dash-air-line-in = Live from the line-in
dash-air-test-tone = Test tone, not your mixer
dash-air-silent = Silence for { $minutes } min: check the mixer
dash-air-studio = Live from the studio computer
dash-air-music = Music from the library: nobody is live
dash-air-dead = Silence goes out: no sound comes in and there is no music to play
dash-air-starting = Starting
dash-air-no-card = No sound card: check that it is plugged in
dash-air-off = No live input set
dash-meter-quiet = Sound level: no sound yet
dash-meter-now = Sound level: left { $left } dB, right { $right } dB
dash-level-title = How it sounds now
dash-meter-hint = The bars move with the sound coming in. Green is fine; red means too loud: turn the mixer's output down a little.
dash-meter-word-none = No sound yet
dash-meter-word-quiet = Too quiet: turn the mixer up
dash-meter-word-good = Good
dash-meter-word-loud = Too loud: turn the mixer down
dash-listen = Listen
dash-listen-stop = Stop listening
dash-air-off-hint = To go on air, choose the sound input in
dash-stat-listeners = Listening now
dash-stat-room = Room for more listeners
dash-room = { $n ->
    [0] No room for more listeners now.
    [one] About 1 more listener.
   *[other] About { $more } more listeners.
} The box sends { $now } now; the fastest it has sent in two days is { $best }.
dash-room-unknown = Not known yet: the box learns how much it can send from what it sends to listeners.
dash-stat-yesterday = Yesterday
dash-yesterday-peak = up to { $peak } at once, around { $time }
dash-yesterday-nobody = nobody listened
dash-yesterday-none = no figures for that day
dash-stat-ways = How they listen
dash-stat-p2p = Sharing in browsers
dash-stat-uptime = Running for
dash-listen-ways = Stream: { $stream } · Players: { $players } (sharing: { $sharing })
dash-two-days = Today and yesterday
dash-chart-today = Today
dash-plays-download = Download what played (last 90 days, for rights societies)
dash-graph-listeners = Listeners
dash-graph-upload = Sending to listeners
dash-chart-listeners-today = Listeners today: up to { $peak } at once, now { $now }.
dash-chart-upload-today = Sent to listeners today: up to { $peak }, now { $now }.
dash-chart-today-none = No figures yet today: one point is added each minute.
dash-chart-yesterday = Yesterday: up to { $peak }.
dash-chart-yesterday-none = No figures for yesterday.

# Library: episodes shared, files being read, storage, unreadable files.
dash-library-title = Library
dash-library-items = Episodes shared:
dash-hashing = Reading new files:
dash-hashing-progress = { $done } of { $total } files ({ $bytes_done } of { $bytes_total })
dash-hashing-hint = Each new file is read once to prepare it for sharing; a big library takes a while the first time.
dash-stat-peers = Sharing with
dash-stat-upload = Sending now
dash-stat-tracker = Meeting point
dash-tracker-line = Episodes: { $swarms } · Devices: { $peers }
dash-storage = Storage
dash-storage-missing = missing (unplugged?)
dash-storage-free = present, { $free } free
dash-storage-present = present
dash-storage-none = No library folder set: add one under Settings.
dash-problems = Files that could not be read
dash-problem-link-outside = it is a shortcut to a place outside the library; copy the file itself here
dash-problem-link-loop = it is a folder shortcut that leads back into itself
dash-problem-link-nowhere = it is a shortcut to a file that is not there any more
dash-problem-name = its name has characters the box cannot read; rename it
dash-problem-not-a-file = it is not an ordinary file
dash-problem-empty = the file is empty; copy it again
dash-problem-unreadable = the box cannot read it: it may be damaged, or the USB storage failing; copy it again
dash-problem-changed = it changed while it was being read (still being copied?); the box tries again by itself
dash-problem-not-recorded = the box could not note it down in its own storage; it tries again at the next check

# Publish an episode (the upload form and the words its script writes).
dash-publish-title = Publish an episode
dash-upload-file = Audio file (MP3, Ogg, Opus, FLAC, WAV or M4A, up to { $max })
dash-field-title = Title
dash-field-notes = Notes
dash-field-keep = Keep this recording (it is never removed to make room)
dash-upload-submit = Publish
dash-upload-hint = If the Wi-Fi drops, choose the same file again: the upload goes on where it stopped.
dash-js-choose-file = Choose a file first.
dash-js-sending = Sending: { $done } of { $total }
dash-js-retry = Connection lost; trying again ({ $n })…
dash-js-published = Published. The box is preparing it for sharing; it appears in the list in a minute.
dash-js-error = Something went wrong (error { $status }).

# Share: the addresses to hand out, with their QR codes.
dash-share-title = Share
dash-share-anyone = Anyone on the internet can open this
dash-share-this-wifi = People on this Wi-Fi can open this
dash-share-no-public = Nobody outside this Wi-Fi can open the station yet: the box has no public address.
dash-share-set-public = Set the public address
dash-share-none = No address to share yet: the pages answer only on this computer.
dash-share-button = Share…
dash-share-more = More links: live stream and podcast feed
dash-share-live = Live stream
dash-share-feed = Podcast feed
dash-share-qr = QR code for: { $what }
dash-share-address = Address of: { $what }
dash-copy = Copy
dash-js-copied = Copied
dash-js-selected = Selected: copy it

# Episodes: edit each one's title and notes.
dash-episodes-title = Episodes
dash-episode-edit = Edit
dash-episode-page = Listeners’ page
dash-save = Save
dash-copy-magnet = Copy magnet link
dash-qr-code = QR code
dash-episodes-none = No episodes yet.

# Weekly schedule.
dash-schedule-title = Weekly schedule
dash-schedule-hint = Recordings are named after the show on air; slots of music from the library are not recorded. Empty a show's name to remove it; the last row adds one.
dash-show = Show
dash-show-new = New show
dash-show-day = Day
dash-show-start = Starts
dash-show-end = Ends
dash-show-kind = On air
dash-show-kind-live = Live (mixer or studio computer)
dash-show-kind-playlist = Music from the library
dash-schedule-save = Save schedule
dash-logo-title = Station logo
dash-logo-now = The station's logo now
dash-logo-hint = Podcast apps, directories and phones' home screens show it. A square picture looks best: of any other, the middle square is used. A photo from the phone is fine (JPEG, PNG or WebP).
dash-logo-file = Picture
dash-logo-submit = Use this picture
dash-logo-remove = Go back to the drawn logo
dash-done-logo = The new logo is in place. Podcast apps pick it up at their next visit.
dash-done-logo-removed = The drawn logo is back.

# Sister stations: this box's key, the stations it follows.
dash-sisters-title = Sister stations
dash-key = This box's key:
dash-key-hint = Stations that follow this one check its list of episodes with this key. Read it to them to compare. Keep a copy: a replacement box with the same key is trusted at once.
dash-key-download = Save a copy of the key
dash-follows = Stations this box follows
dash-follow-key = Key: { $key }
dash-follow-key-unseen = Key: not seen yet
dash-follow-retry = next try in { $secs } s
dash-follow-mirrored = Episodes copied here: { $mirrored } of { $items }
dash-follow-pending = Not contacted yet.
dash-follow-claim-ok = This station lists this box as one of its mirrors.
dash-follow-claim-refused = This station does not list this box as a mirror yet. It said: { $why }
dash-follows-none = None yet: write a station's address below.
dash-follow-unreachable = The station does not answer. Check its address and this box's internet connection.
dash-follow-refused = This address cannot be used: { $why }
dash-follow-not-station = This address does not answer like a station's box.
dash-follow-key-changed = The station now signs with a different key from the one seen first. If it replaced its box, its operator should load the old key into the new one.
dash-follow-old-list = The station sent an older list of episodes than one already seen.
dash-follow-local = This box could not keep what it read: { $why }

# Boxes that mirror this station, and how their last check went.
dash-mirrors-title = Boxes that mirror this station
dash-mirrors-hint = A box is listed as a mirror only after this box downloaded random pieces of the episodes it holds and found them the same as here. Each is checked again regularly and dropped if it fails.
dash-mirrors-approval = New mirrors also wait for your approval (Settings).
dash-mirror-listed = { $n ->
    [one] Listed for 1 episode.
   *[other] Listed for { $n } episodes.
}
dash-mirror-waiting = { $n ->
    [one] Holds 1 episode; waiting for your approval.
   *[other] Holds { $n } episodes; waiting for your approval.
}
dash-mirror-dropped = Not listed: its last check failed.
dash-mirror-checked = Checked { $ago }: { $result }.
dash-mirror-passed = Last passed { $ago }.
dash-check-matched = { $pieces ->
    [one] the random piece asked for matches this station's copy
   *[other] the { $pieces } random pieces asked for match this station's copy
}
dash-check-wrong = piece { $piece } of “{ $name }” is not the same as this station's copy
dash-check-unanswered = it did not hand over a piece of “{ $name }”
dash-check-nothing = it holds none of this station's episodes
dash-check-unreachable = its address does not answer
dash-check-not-station = its address does not answer like a station's box
dash-check-bad-address = its address is not valid
dash-check-too-slow = too slow to hand over the pieces asked for
dash-approve = Approve
dash-remove = Remove
dash-mirrors-none = None yet.
dash-removed-title = Removed mirrors
dash-removed-hint = These boxes are not listed, whatever they claim, until you allow them again.
dash-removed-at = removed { $ago }
dash-allow = Allow again

# Meeting points (trackers) and the key of an old box.
dash-trackers-title = Meeting points (trackers)
dash-trackers-hint = Meeting points help listeners find each other. The box checks each every few minutes; links list the healthy ones first.
dash-tracker-dead = Not answering: left out of the links.
dash-tracker-ok = { $percent } % answered
dash-tracker-ok-ms = { $percent } % answered, { $ms } ms
dash-trackers-none = No outside ones yet. The box's own meeting point always works; outside ones are checked a few minutes after they are added.
dash-key-old = Use the key of an old box
dash-key-saved = Saved key
dash-key-use = Use this key

# Settings.
dash-settings-title = Settings
dash-about = About the station
dash-audio = Sound input
dash-audio-none = No live input
dash-audio-sine = Test tone
dash-audio-hint = After saving, watch the level bars above move with the mixer.
dash-bitrate = Stream quality (kbit/s; 128 is good, 64 saves data)
dash-source-password = Studio password (for BUTT, Mixxx, Liquidsoap, ffmpeg)
dash-source-password-hint = Studio software sends its stream to this box as to an Icecast server: address { $url }, user “source”, this password. It then goes on air before the line-in. Empty: no studio can connect.
dash-fallback-folder = Music between shows: library folder
dash-fallback-folder-hint = When nobody is live, the box plays this folder of the library, shuffled. Empty: the whole library.
dash-fallback-whole-library = (the whole library)
dash-library-folders = Library folders (one per line)
dash-usb-title = USB sticks
dash-usb-none = No USB stick plugged in.
dash-usb-root = USB sticks are found in { $folder }: each folder there is one stick.
dash-usb-away = { $n ->
    [one] removed: 1 episode offline until it comes back
   *[other] removed: { $n } episodes offline until it comes back
}
dash-usb-stopped = { $n ->
    [one] not shared: 1 episode offline
   *[other] not shared: { $n } episodes offline
}
dash-usb-shared = { $n ->
    [one] 1 audio file, shared
   *[other] { $n } audio files, shared
}
dash-usb-space = { $size }, { $free } free
dash-usb-stop = Stop sharing
dash-usb-resume = Share again
dash-usb-skipped = { $n ->
    [one] 1 file was skipped
   *[other] { $n } files were skipped
}: see why
dash-usb-hint = A stick is shared as soon as it is plugged in. A stick you stop sharing stays stopped, by its name, even after it is pulled out.
dash-upload-limit = Sending limit (KiB/s, 0 = no limit; lower it if the home internet gets slow)
dash-extra-trackers = Extra meeting points (trackers, one per line)
dash-public-title = For listeners anywhere
dash-public-url = Public address (your internet router's, or your own domain)
dash-max-upload = Largest upload (MB)
dash-follow-title = Follow other stations
dash-follow-field = Sister stations to follow and mirror (one address per line)
dash-approve-mirrors = New mirrors of this station need my approval before they are listed
dash-remote-admin = Allow this page from outside the local network (only with a strong password)

# The home router opens the box's doors to the internet (system::portmap).
dash-reach-title = Reachable from the internet
dash-reach-hint = Your router is the device that connects your home to the internet. The box asks it to open a few doors (ports) so listeners and other stations outside can reach it.
dash-reach-searching = Asking your router to open the doors…
dash-reach-no-router = No router answered. Listeners outside your home may not reach the box; if your router has a setting called UPnP or NAT-PMP (opening doors automatically), turn it on.
dash-reach-open = Your router lets listeners in: { $open } of { $total } doors open.
dash-reach-address = Internet address: { $ip }
dash-reach-door-open = Port { $port } ({ $what }): open
dash-reach-door-moved = Port { $port } ({ $what }): open; from the internet it is reached on port { $external }
dash-reach-refused-not-allowed = Your router said no to port { $port } ({ $what }): its rules do not allow it for this box.
dash-reach-refused-taken = Your router said no to port { $port } ({ $what }): another device is already using it.
dash-reach-refused-other = Your router said no to port { $port } ({ $what }): { $reason }
dash-reach-trying = Port { $port } ({ $what }): asking…
# When the router will not open some doors: how to open them by hand ($ports like "TCP 8080, UDP 6881"; $address the box's address on the home network).
dash-reach-by-hand = What you can do: open your router's settings page (its address is often on a label underneath it), look for "port forwarding" and send these ports to this box ({ $address }): { $ports }. If your internet company looks after the router, call them and ask them to do it. Meanwhile the box keeps working, but listeners outside your home may not reach it.
dash-reach-by-hand-no-address = What you can do: open your router's settings page (its address is often on a label underneath it), look for "port forwarding" and send these ports to this box: { $ports }. If your internet company looks after the router, call them and ask them to do it. Meanwhile the box keeps working, but listeners outside your home may not reach it.
dash-reach-what-peers = for sharing with BitTorrent programs
dash-reach-what-udp-tracker = meeting point for BitTorrent programs
dash-reach-what-web = pages and episodes
dash-reach-what-https = secure pages
dash-reach-what-stun = so listeners can find each other
# The browser's padlock (https): the certificate the box asks for and renews by itself.
dash-https-title = Browser padlock (https)
dash-https-valid = The padlock certificate is good until { $date }.
dash-https-renews = The box renews it by itself before it runs out.
dash-https-files = This is the certificate from the files named in the configuration: replace them before that date.
dash-https-expired = The padlock certificate ran out on { $date }.
dash-https-waiting = The box is asking for the padlock certificate for { $name }. Meanwhile the radio works without the padlock.
dash-https-problem-challenge = The certificate service could not reach the box under the name { $name }. Check that this name leads to your home's internet address and that your router lets ports 80 and 443 through to the box.
dash-https-problem-unreachable = The box cannot reach the certificate service. Check that the box has internet.
dash-https-problem-refused = The certificate service has not given the certificate for now (for example because it was asked for too many times).
dash-https-problem-storage = The box could not read or save the certificate in its memory.
dash-https-problem-bad = The certificate cannot be used: it is damaged or of a kind the box does not understand.
dash-https-retry = The box will try again by itself. Meanwhile the radio keeps working without the padlock.
dash-https-files-retry = The box keeps using the certificate it had, and reads the files again as soon as they change.
dash-https-detail = Technical detail (for whoever helps you)

## Music between shows: the tracks the fallback plays
dash-music-title = Music between shows
dash-music-hint = Tick the tracks the box plays, shuffled, when nobody is live. With none ticked it plays the folder chosen on the Technical page, or the whole library.
dash-music-empty = No music in the library yet: audio files put in a library folder show up here.
dash-music-count = Ticked: { $n } of { $total }
dash-music-save = Save the list
dash-done-music = The list of music between shows is saved.

## Sending the stream on to Icecast servers
dash-push = Also send the stream to Icecast servers
dash-push-hint = One server per line, as its owner gives it: icecast://source:PASSWORD@SERVER:PORT/MOUNT. A mount ending in .ogg gets the Opus stream, any other the MP3 one (or write ogg or mp3 after the address). Saving restarts the stream for a moment.
dash-stat-pushes = Also sent to
dash-push-sending = { $server }: sending
dash-push-connecting = { $server }: connecting…
dash-push-failed = { $server }: not reaching it (see the warning above)

# System updates (the Updates card)
dash-update-title = Updates
dash-update-running = This box runs version { $version }.
dash-update-available = Version { $version } is ready to install ({ $size } to download).
dash-update-notes = What is new in version { $version }
dash-update-check-failed = The last check for a new version did not work: { $why }
dash-update-newest = This is the newest version.
dash-update-never-checked = Not checked for a new version yet.
dash-update-checking = Checking for a new version…
dash-update-downloading = Downloading version { $version }: { $done } of { $total }. The station stays on air.
dash-update-installing = Installing version { $version }: { $percent } %. The station stays on air.
dash-update-waiting = Version { $version } is installed. The box restarts into it at the next quiet moment: about a minute off air.
dash-update-restarting = Restarting into version { $version }. The station is back on air in about a minute.
dash-update-checked = Last checked { $when }.
dash-update-details = Details
dash-update-last-updated = Last update: to version { $version }, { $when }. It went well.
dash-update-last-rolled-back = Version { $version } was installed but did not start properly ({ $why }), so the box went back to version { $back } by itself, { $when }. It will not install that version again unless you press “Update now”.
dash-update-last-failed = Version { $version } was not installed, { $when }: { $why } Nothing changed on the box.
dash-update-why-unreachable = the update server could not be reached.
dash-update-why-not-signed = it is not signed by the streamp2p project, so it was refused.
dash-update-why-other-box = it is made for another kind of box, so it was refused.
dash-update-why-damaged = the download arrived damaged.
dash-update-why-no-space = there is not enough free space ({ $need } needed, { $free } free).
dash-update-why-install = the installer stopped with an error.
dash-update-why-never-healthy = the new version did not answer in time
dash-update-auto = New versions install by themselves, and the box restarts into them at a quiet moment: never during a live show in the schedule, never while a studio computer is connected.
dash-update-manual = New versions install only when you press “Update now”.
dash-update-make-manual = Only when I press “Update now”
dash-update-make-automatic = Install new versions by themselves
dash-update-now = Update now
dash-update-check = Check now
dash-done-update = The update has started. This card shows how it goes; the box restarts once it is installed.
dash-done-update-check = Checking for a new version.
dash-done-usb = Done. Listeners see the change in a few seconds.
