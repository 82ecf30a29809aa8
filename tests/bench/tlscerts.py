"""tlscerts - the certificates of the TLS runs (run.py --tls, ceiling).

Certs makes a CA and the relays' and the sink's server certificates with the
openssl CLI, as tests/integration/ddtls.py does.
"""
import os
import subprocess

from benchcore import OPENSSL

CA_CNF = """[ca]
default_ca = bench
[bench]
dir = {dir}
database = {dir}/index.txt
new_certs_dir = {dir}
serial = {dir}/serial
default_md = sha256
policy = any
copy_extensions = copy
unique_subject = no
[any]
commonName = supplied
"""


class Certs:
    """A CA and two server certificates (the relays', the sink's), each with
    SAN IP:127.0.0.1, made with the openssl CLI as tests/integration/ddtls.py
    makes the tests' ones. EC P-256 keys. Files readable by all (throwaway keys:
    Postfix's daemons and `tlsload sink -u nobody` read them)."""

    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "certs")
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        self.ca, self.ca_key = self.path("ca.pem"), self.path("ca.key")
        self._ca()
        self.relay, self.relay_key = self._cert("relay", "relay.bench.test")
        self.sink, self.sink_key = self._cert("sink", "sink.bench.test")
        for f in os.listdir(self.dir):
            os.chmod(self.path(f), 0o644)

    def path(self, name):
        return os.path.join(self.dir, name)

    def _run(self, *args):
        subprocess.run([OPENSSL] + list(args), cwd=self.dir, check=True, capture_output=True)

    def _ca(self):
        d = self.path("ca.d")
        os.makedirs(d)
        open(os.path.join(d, "index.txt"), "w").close()
        with open(os.path.join(d, "serial"), "w") as f:
            f.write("1000\n")
        with open(os.path.join(d, "ca.cnf"), "w") as f:
            f.write(CA_CNF.format(dir=d))
        self._run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                  "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "30",
                  "-subj", "/CN=dumpsterd bench CA",
                  "-addext", "basicConstraints=critical,CA:TRUE",
                  "-addext", "keyUsage=critical,keyCertSign,cRLSign")

    def _cert(self, name, cn):
        key, csr, pem = name + ".key", name + ".csr", name + ".pem"
        self._run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                  "-keyout", key, "-out", csr, "-subj", "/CN=" + cn,
                  "-addext", "subjectAltName=DNS:%s,IP:127.0.0.1" % cn,
                  "-addext", "extendedKeyUsage=serverAuth")
        self._run("ca", "-batch", "-notext", "-config", self.path("ca.d/ca.cnf"),
                  "-cert", "ca.pem", "-keyfile", "ca.key", "-in", csr, "-out", pem,
                  "-days", "30")
        return self.path(pem), self.path(key)
