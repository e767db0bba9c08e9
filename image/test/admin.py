#!/usr/bin/env python3
"""The operator's config page from a script, as the update test needs it (image/update-test.sh):

  admin.py BASE JAR setup PASSWORD NAME   first run: the password and the station's name
  admin.py BASE JAR status                the page's status JSON (/admin/status)
  admin.py BASE JAR ask ACTION            the Updates card's buttons: check, install

JAR is a file keeping the session cookie between calls (and across the box's reboots: the
session lives in the node's database). Exits non-zero with the answer on any refusal.
"""
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def request(base, jar, path, form=None):
    cookies = json.load(open(jar)) if jar_exists(jar) else {}
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else {}
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    req = urllib.request.Request(base + path, data=data, headers=headers)
    try:
        resp = OPENER.open(req, timeout=20)
    except urllib.error.HTTPError as e:
        resp = e
    for value in resp.headers.get_all("Set-Cookie") or []:
        name, _, rest = value.partition("=")
        cookies[name.strip()] = rest.split(";")[0]
    json.dump(cookies, open(jar, "w"))
    return resp.status, resp.read().decode("utf-8", "replace")


def jar_exists(jar):
    try:
        open(jar).close()
        return True
    except OSError:
        return False


def hidden(page, name):
    m = re.search(r'name="%s" value="([^"]*)"' % re.escape(name), page)
    if not m:
        sys.exit(f"admin.py: no {name} field in the page")
    return m.group(1)


def main():
    base, jar, cmd, *args = sys.argv[1:]
    if cmd == "setup":
        password, name = args
        # The first run's last question (the language and the name come before it).
        status, page = request(base, jar, "/admin?step=password")
        token = hidden(page, "form_token")
        status, page = request(base, jar, "/admin/setup", {
            "form_token": token, "password": password, "password2": password,
            "station_name": name, "station_description": "", "station_language": "en",
        })
        if status not in (200, 303):
            sys.exit(f"admin.py: setup answered {status}: {page[:400]}")
    elif cmd == "status":
        status, body = request(base, jar, "/admin/status")
        if status != 200:
            sys.exit(f"admin.py: /admin/status answered {status}")
        print(body)
    elif cmd == "ask":
        (action,) = args
        status, page = request(base, jar, "/admin")
        csrf = hidden(page, "csrf")
        status, page = request(base, jar, "/admin/update", {"csrf": csrf, "action": action})
        if status != 303:
            sys.exit(f"admin.py: /admin/update answered {status}: {page[:400]}")
    else:
        sys.exit(f"admin.py: unknown command {cmd}")


if __name__ == "__main__":
    main()
