# The config page's frame, first run, login, the messages of its forms and its error pages.
# The config-… and schedule-… parts are also what the config file's errors print (in English,
# after "config error: `key`:"): they start in lower case and carry no full stop.

# The bar on every config page: the language switch and the guide.
admin-frame-label = Language and help
admin-guide-link = Operator's guide

# First run (the setup page).
admin-setup-page-title = Set up your station
admin-setup-title = Welcome
admin-setup-intro = Only someone who knows this password can change the station. Keep it somewhere safe.
admin-setup-language = This box is your station's broadcaster, archive and sharing point. Which language should its pages speak?
admin-setup-name-title = What is your station called?
admin-setup-name-hint = Listeners see it on the listening page and in their podcast apps.
admin-setup-password-title = Choose a password for this page
admin-setup-change = Change
admin-password-new = Password (at least 8 characters)
admin-password-again = Password again
admin-setup-submit = Save and start

# The station's fields, on the setup page and in Settings.
admin-station-name = Station name
admin-station-language = Station language
admin-station-language-hint = Used for the podcast feed and the recordings' titles. Each visitor still sees these pages in their own language.

# Login.
admin-login-page-title = Log in
admin-login-title = Station settings
admin-password = Password
admin-login-submit = Log in
admin-login-forgot = Forgot it? The guide says what can be done.
admin-login-forgot-link = Read the guide
admin-login-limit = After five wrong tries, this page waits ten minutes.
admin-wrong-password = Wrong password. Check it and try again.
admin-locked = { $minutes ->
    [one] Too many wrong passwords: try again in 1 minute.
   *[other] Too many wrong passwords: try again in { $minutes } minutes.
}
admin-password-too-short = The password must have at least 8 characters.
admin-password-too-long = The password is longer than 200 characters.
admin-password-mismatch = The two passwords are not the same. Type them again.

# Messages beside a form's field.
admin-form-store = The box could not save this (see its log). Try again in a moment.
admin-logo-none = Choose a picture first.
admin-logo-unreadable = This file is not a picture the box can read. Send a JPEG, PNG or WebP picture.
admin-logo-too-big = The file is larger than { $mb } MB. Send a smaller picture.
admin-logo-too-large = The picture is { $width } × { $height } pixels; the box takes at most 10000 on a side. Send a smaller one.
admin-logo-too-small = The picture is { $width } × { $height } pixels; it would look blurred. Send one of at least 200 on each side.
admin-whole-number = Write a whole number here, with no letters or dots.
admin-changed-meanwhile = Someone else saved this page while you were changing it. Here it is as it is now: make your changes again.
admin-usb-unknown = That is not a USB stick of this box.
admin-language-unknown = Pick one of the languages in the list.
admin-text-too-long = The title (200 characters) or the notes (5000) are too long.
admin-item-gone = This episode is no longer in the library. Reload the page.
admin-schedule-overlap = “{ $first }” and “{ $second }” overlap. Change the times of one of them.
admin-mirrors-full = All the places for mirrors are taken: remove one first.
admin-mirror-gone = This mirror is no longer in the list (it may have stopped asking). Reload the page.
admin-key-not-a-key = This is not a key saved from a streamp2p box. Paste the whole text of the key file.

# Settings the page (or the config file) cannot use: what is wrong, then what to do.
admin-config-audio = '{ $value }' is not an audio source
admin-config-audio-fix = use alsa:DEVICE, sine, file:PATH or none
admin-config-audio-pick = pick an input from the list
admin-config-public-url = '{ $value }' is not an http(s) address
admin-config-public-url-fix = write it like http://radio.example.org, or leave it empty
admin-config-tracker = '{ $value }' is not an http, https or udp tracker address
admin-config-tracker-fix = write each like udp://tracker.example.org:6969/announce
admin-config-follow = '{ $value }' is not the http(s) address of another station's box
admin-config-follow-fix = write each like http://radio-b.example.org
admin-config-max-upload = { $mb } MB is not a usable upload limit
admin-config-max-upload-fix = use a size between 1 and 16384 MB, such as 500
admin-config-station-name = the station name must have 1 to 100 characters
admin-config-station-name-fix = write the name listeners know the station by
admin-config-description = the description is longer than 2000 characters
admin-config-description-fix = shorten it to a few sentences
admin-config-bitrate = the box cannot send sound at { $kbps } kbit/s
admin-config-bitrate-fix = use a value from 16 to 510, such as 128
admin-config-library-missing = folder { $folder } does not exist
admin-config-library-missing-fix = create it, mount the USB storage there, or remove it from the list
admin-config-library-unreadable = folder { $folder } cannot be read ({ $error })
admin-config-library-unreadable-fix = give the node read access to it (and to the folders above it)

# The weekly schedule's rows.
admin-schedule-day = '{ $value }' is not a day of the week
admin-schedule-day-fix = pick a day from the list
admin-schedule-time = '{ $value }' is not a time
admin-schedule-time-fix = write times like 18:30
admin-schedule-order = a show must end after it starts
admin-schedule-order-fix = check the end time (a show past midnight: split it in two)
admin-schedule-name = a show needs a name of 1 to 80 characters
admin-schedule-name-fix = write the show's name

# Error pages of the config page.
admin-error-foreign-host-title = Wrong address
admin-error-foreign-host = The config page only answers at the box's own address: its IP address, streamp2p.local, or the station's public address.
admin-error-not-local-title = Only from the station's network
admin-error-not-local = The config page only answers on the station's local network. To allow it from anywhere, set admin.allow_remote in the config file.
admin-error-forged-title = Change not made
admin-error-forged = This change did not come from this box's config page, or the page was open too long. Go back, reload the page and try again.
admin-error-body-title = Form not read
admin-error-body = The box could not read what the form sent (too large or cut off). Go back and try again.
admin-error-internal-title = Something went wrong
admin-error-internal = The box could not do this (see its log). Try again in a moment.

# Publishing from the phone: what the page's script shows when an upload is turned down.
admin-upload-too-big = This file is { $size } MB; the largest upload is { $max } MB (change it in Settings).
admin-upload-no-room = The box does not have room for this file. Delete old recordings first.
admin-upload-chunk-too-big = This piece of the upload is larger than the page sends. Reload the page and try again.
admin-upload-not-found = This upload is no longer on the box. Choose the file again.
admin-upload-too-long = The box received more than the file's size. Choose the file again.
admin-upload-not-audio = This file is not audio the box knows (MP3, Ogg, Opus, FLAC, WAV or M4A).
admin-upload-cannot-store = The box cannot store uploads right now (see its log). Try again in a moment.

# Sharing: a QR code that cannot be made.
admin-qr-too-long = This text is too long for a QR code.
admin-qr-cannot = A QR code cannot be made of this.
admin-push-bad = “{ $line }” is not a server address the box can use. Write it as icecast://source:PASSWORD@SERVER:PORT/MOUNT, with ogg or mp3 after it if the mount's name does not say.

admin-update-unknown-action = That button is not one this page knows. Reload the page and try again.
