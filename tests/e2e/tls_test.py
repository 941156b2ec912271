#!/usr/bin/env python3
"""HTTPS with Debian's OpenSSL 3: many scrapes in a row with curl and Python, plain HTTP
on the TLS port gets no metrics, the loopback relay port serves nobody else, client
certificates are enforced, min_version holds, and SIGHUP loads renewed certificates.
OpenSSL is loaded only by a daemon configured for TLS; one without serves plain HTTP."""

import os
import shutil
import ssl
import subprocess

from e2e import (S3CRET_HASH, Daemon, basic_auth, check, client_context, get, make_certificates,
                 raw_exchange, require_binary, workdir, write)

curl = require_binary("curl")
tmp = workdir()
certs = make_certificates(tmp)
alice = basic_auth("alice", "s3cret")


def curl_get(port, *args):
    result = subprocess.run([curl, "-sS", "--cacert", certs["ca.crt"], "-o", "/dev/null",
                             "-w", "%{http_code}", "-u", "alice:s3cret"] + list(args) +
                            ["https://127.0.0.1:%d/metrics" % port],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    return result.returncode, result.stdout.decode(), result.stderr.decode()


def openssl_mapped(daemon):
    return {name for name in daemon.mapped_files() if name.startswith(("libssl.", "libcrypto."))}


with Daemon("--no-collector.process") as daemon:
    response = get(daemon.port)
    check(response.status == 200 and b"memledger_meminfo_bytes" in response.body,
          "plain HTTP scrape: %d" % response.status)
    check(not openssl_mapped(daemon), "OpenSSL loaded without TLS: %s" % openssl_mapped(daemon))

web = write(os.path.join(tmp, "web.yml"),
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
            "basic_auth_users:\n  alice: " + S3CRET_HASH + "\n")
# The process collector's page walks are beside the point here and cost ~0.2 s a scrape.
with Daemon("--web.config.file=" + web, "--no-collector.process") as daemon:
    for i in range(50):
        rc, code, err = curl_get(daemon.port)
        check(rc == 0 and code == "200", "curl scrape %d: rc=%d code=%s %s" % (i, rc, code, err))
    check(any(name.startswith("libssl.") for name in openssl_mapped(daemon)),
          "TLS served without libssl mapped: %s" % sorted(daemon.mapped_files()))
    rc, code, err = curl_get(daemon.port, "--compressed", "--http1.0")
    check(rc == 0 and code == "200", "curl gzip/http1.0: rc=%d code=%s %s" % (rc, code, err))

    context = client_context(certs["ca.crt"])
    for i in range(300):
        response = get(daemon.port, headers=alice, context=context)
        check(response.status == 200 and b"memledger_meminfo_bytes" in response.body,
              "HTTPS scrape %d: %d" % (i, response.status))
    check(get(daemon.port, context=context).status == 401, "HTTPS without credentials not 401")
    check(get(daemon.port, "/nope", headers=alice, context=context).status == 404, "HTTPS 404")

    # Plain HTTP on the TLS port: an explanation, never metrics.
    answer = raw_exchange(daemon.port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    check(answer.startswith(b"HTTP/1.0 400"), "plain HTTP on TLS port: %r" % answer[:80])
    check(b"memledger_" not in answer, "plain HTTP on TLS port returned metrics")

    # The relay's loopback port is no way around TLS for local users.
    relay_ports = daemon.listening_ports() - {daemon.port}
    check(len(relay_ports) == 1, "expected one relay port, got %s" % relay_ports)
    relay = relay_ports.pop()
    bypass = get(relay, headers=alice)
    check(bypass.status == 403 and b"memledger_" not in bypass.body,
          "relay port served a direct client: %d" % bypass.status)

    # A wrong CA on the client side fails the handshake (the client refuses us).
    rc, code, err = curl_get(daemon.port, "--cacert", certs["rogue.crt"])
    check(rc != 0, "curl trusted a certificate its CA did not sign")

    # Certificate renewal: new files + SIGHUP, new connections see the new certificate.
    before = ssl.get_server_certificate(("127.0.0.1", daemon.port))
    renewed = make_certificates(os.path.join(tmp, "renewed"))
    shutil.copy(renewed["server.crt"], certs["server.crt"])
    shutil.copy(renewed["server.key"], certs["server.key"])
    daemon.reload(expect_success=True)
    after = ssl.get_server_certificate(("127.0.0.1", daemon.port))
    check(before != after, "SIGHUP did not load the renewed certificate")
    check(get(daemon.port, headers=alice, context=client_context(renewed["ca.crt"])).status == 200,
          "scrape with the renewed certificate")
    shutil.copy(renewed["ca.crt"], certs["ca.crt"])  # the CA the rest of the test trusts
    check(daemon.alive(), "daemon died")

# Client certificates: RequireAndVerifyClientCert against client_ca_file, TLS 1.3 only.
web = write(os.path.join(tmp, "mtls.yml"),
            "tls_server_config:\n  cert_file: renewed/server.crt\n  key_file: renewed/server.key\n"
            "  client_ca_file: ca.crt\n  client_auth_type: RequireAndVerifyClientCert\n"
            "  min_version: TLS13\n")
shutil.copy(os.path.join(tmp, "renewed", "ca.crt"), os.path.join(tmp, "ca.crt"))
renewed = {name: os.path.join(tmp, "renewed", name) for name in
           ("ca.crt", "client.crt", "client.key", "rogue.crt", "rogue.key")}
with Daemon("--web.config.file=" + web, "--no-collector.process") as daemon:
    good = client_context(renewed["ca.crt"], renewed["client.crt"], renewed["client.key"])
    for i in range(20):
        check(get(daemon.port, context=good).status == 200, "mTLS scrape %d" % i)

    def refused(context, what):
        try:
            response = get(daemon.port, context=context)
        except (ssl.SSLError, ConnectionError, OSError):
            return
        check(False, "%s: got HTTP %d" % (what, response.status))

    refused(client_context(renewed["ca.crt"]), "no client certificate")
    refused(client_context(renewed["ca.crt"], renewed["rogue.crt"], renewed["rogue.key"]),
            "client certificate from another CA")
    refused(client_context(renewed["ca.crt"], renewed["client.crt"], renewed["client.key"],
                           maximum_version=ssl.TLSVersion.TLSv1_2), "TLS 1.2 below min_version")
    rc, code, err = curl_get(daemon.port, "--cacert", renewed["ca.crt"], "--cert",
                             renewed["client.crt"], "--key", renewed["client.key"])
    check(rc == 0 and code == "200", "curl with a client certificate: %d %s %s" % (rc, code, err))
    check(daemon.alive(), "daemon died")
print("ok")
