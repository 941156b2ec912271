#!/usr/bin/env python3
"""Configuration errors and reloads: an invalid file at start is a clear error naming the
file, line and column with a non-zero exit; SIGHUP reloads; an invalid new file keeps the
old configuration and sets memledger_config_last_reload_successful to 0."""

import os
import subprocess

from e2e import (BINARY, S3CRET_HASH, Daemon, basic_auth, check, get, make_certificates,
                 sample, workdir, write)

tmp = workdir()


def start_fails(args, expected):
    result = subprocess.run([BINARY, "--web.listen-address=127.0.0.1:0"] + args,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    err = result.stderr.decode()
    check(result.returncode != 0, "%s: exited 0" % args)
    for text in expected:
        check(text in err, "%s: stderr lacks %r:\n%s" % (args, text, err))


# The main configuration.
bad_key = write(os.path.join(tmp, "bad_key.yml"),
                "collectors:\n  meminfo:\n    enabled: true\n  slab:\n    top_cache: 3\n")
start_fails(["--config.file=" + bad_key], [bad_key + ":5:5:", "top_cache"])
bad_yaml = write(os.path.join(tmp, "bad_yaml.yml"), "collectors:\n  meminfo: [\n")
start_fails(["--config.file=" + bad_yaml], [bad_yaml + ":3:"])
bad_type = write(os.path.join(tmp, "bad_type.yml"), "collectors:\n  meminfo:\n    enabled: maybe\n")
start_fails(["--config.file=" + bad_type], [bad_type + ":3:14:", "true or false"])
mapping_key = write(os.path.join(tmp, "mapping_key.yml"), "collectors:\n  [a]: 1\n")
start_fails(["--config.file=" + mapping_key], [mapping_key + ":2:3:"])
start_fails(["--config.file=" + os.path.join(tmp, "absent.yml"), "--once"],
            ["absent.yml", "No such file"])

# The web configuration.
bad_web = write(os.path.join(tmp, "bad_web.yml"),
                "basic_auth_users:\n  alice: " + S3CRET_HASH + "\n  bob: hunter2\n")
start_fails(["--web.config.file=" + bad_web], [bad_web + ":3:8:", "bcrypt"])
missing_cert = write(os.path.join(tmp, "missing_cert.yml"),
                     "tls_server_config:\n  cert_file: nope.crt\n  key_file: nope.key\n")
start_fails(["--web.config.file=" + missing_cert],
            [os.path.join(tmp, "nope.crt"), "cannot load the certificate"])
certs = make_certificates(tmp)
mismatch = write(os.path.join(tmp, "mismatch.yml"),
                 "tls_server_config:\n  cert_file: server.crt\n  key_file: client.key\n")
start_fails(["--web.config.file=" + mismatch], ["client.key", "key values mismatch"])

# Reloads.
config = os.path.join(tmp, "config.yml")
web = os.path.join(tmp, "web.yml")
write(config, "collectors:\n  slab:\n    enabled: true\n")
write(web, "basic_auth_users:\n  alice: " + S3CRET_HASH + "\n")
alice = basic_auth("alice", "s3cret")
with Daemon("--config.file=" + config, "--web.config.file=" + web) as daemon:
    def scrape():
        response = get(daemon.port, headers=alice)
        check(response.status == 200, "scrape answered %d" % response.status)
        return response.text()

    text = scrape()
    check(sample(text, "memledger_config_last_reload_successful") == 1, "initial load not 1")
    check('collector="slab"' in text, "slab not enabled at start")

    write(config, "collectors:\n  slab:\n    enabled: false\n")
    daemon.reload(expect_success=True)
    text = scrape()
    check('collector="slab"' not in text, "slab still collected after reload disabled it")
    check(sample(text, "memledger_config_last_reload_successful") == 1, "good reload not 1")

    write(config, "collectors:\n  [slab]: 1\n")  # yaml-cpp throws its own exception here
    daemon.reload(expect_success=False)
    check(daemon.alive(), "a mapping as a key killed the daemon on reload")

    write(config, "collectors:\n  slab:\n    enabled: true\n  bogus: {}\n")
    daemon.reload(expect_success=False)
    text = scrape()
    check(sample(text, "memledger_config_last_reload_successful") == 0, "bad reload not 0")
    check('collector="slab"' not in text, "bad reload changed the collectors")
    check("file=" + config + " line=4 column=3" in daemon.log(), "reload error lacks position:\n"
          + daemon.log())

    # A bad web config is refused as a whole: the main config's fix is not applied either.
    write(config, "collectors:\n  slab:\n    enabled: true\n")
    write(web, "basic_auth_users:\n  alice: plaintext\n")
    daemon.reload(expect_success=False)
    text = scrape()  # alice's old password still works
    check(sample(text, "memledger_config_last_reload_successful") == 0, "bad web reload not 0")
    check('collector="slab"' not in text, "half of a failed reload was applied")

    # Turning TLS on needs a restart: refused, and said so.
    write(web, "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n")
    daemon.reload(expect_success=False)
    check("needs a restart" in daemon.log(), "no 'needs a restart' in the log")
    scrape()

    write(web, "basic_auth_users:\n  alice: " + S3CRET_HASH.replace("$2b$", "$2y$") + "\n")
    daemon.reload(expect_success=True)
    text = scrape()
    check(sample(text, "memledger_config_last_reload_successful") == 1, "recovery not 1")
    check('collector="slab"' in text, "slab not back after a good reload")
    check(get(daemon.port, headers=basic_auth("alice", "wrong")).status == 401, "wrong password")
print("ok")
