#!/usr/bin/env python3
"""Basic auth from --web.config.file: no credentials, wrong credentials -> 401 on every
page; the right ones -> 200."""

import os

from e2e import S3CRET_HASH, Daemon, basic_auth, check, get, workdir, write

tmp = workdir()
web = write(os.path.join(tmp, "web.yml"), "basic_auth_users:\n  prometheus: " + S3CRET_HASH + "\n")

with Daemon("--web.config.file=" + web) as daemon:
    cases = [
        ("none", {}, 401),
        ("wrong password", basic_auth("prometheus", "wrong"), 401),
        ("unknown user", basic_auth("mallory", "s3cret"), 401),
        ("other scheme", {"Authorization": "Bearer s3cret"}, 401),
        ("malformed", {"Authorization": "Basic !!!"}, 401),
        ("right", basic_auth("prometheus", "s3cret"), 200),
    ]
    for name, headers, expected in cases:
        response = get(daemon.port, headers=headers)
        check(response.status == expected, "%s: %d, not %d" % (name, response.status, expected))
        if expected == 401:
            check(response.headers.get("www-authenticate", "").startswith("Basic"),
                  name + ": no WWW-Authenticate: Basic")
            check(b"memledger_" not in response.body, name + ": metrics in a 401")
    check(b"memledger_meminfo_bytes" in get(daemon.port, headers=basic_auth("prometheus", "s3cret")).body,
          "no metrics with the right credentials")
    # Every page is protected, not only the metrics.
    for path in ("/", "/nope"):
        check(get(daemon.port, path).status == 401, path + " without credentials is not 401")
    check(get(daemon.port, "/", headers=basic_auth("prometheus", "s3cret")).status == 200, "/")
print("ok")
