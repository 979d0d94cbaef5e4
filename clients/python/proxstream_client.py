"""Stream activations to a running ``proxstream serve`` (numpy only, Python 3.8+).

    from proxstream_client import Client
    c = Client("http://127.0.0.1:8080", run="layer6")   # or a list of URLs to fail over between
    c.create_run(input_dim=768, sae={"latents": 16384, "k": 32})   # once; 409 if it exists
    c.push(acts)                       # acts: numpy array [rows, 768]; float32 on the wire
    print(c.status()["fvu"])
    c.export("sae_out/")               # cfg.json + sae_weights.safetensors (SAELens layout)

``push`` honours the server's back-pressure: a 503 answer (the run is behind) is retried after
its Retry-After, and connection errors (a restarting server) are retried for ``retry_seconds``.
Given several server URLs (a list, or one string with commas), the client fails over: on a
connection error it moves to the next URL and resends there, going round the list until
``retry_seconds`` have passed; ``Client.url`` is the one in use. Delivery across a failover is at
least once: a refused connection sent nothing, but when a connection breaks after the body went out
the client cannot know whether that node queued the batch, and sends it again to the next one.
A server started with a token (``serve --token-file``) needs it on every request: both clients take
``token=...`` and otherwise read the environment variable ``PROXSTREAM_TOKEN`` (as the command line
does); ``TcpClient`` sends it in an authentication frame when it connects.
A server started with a key store (``serve --tls-keystore``) speaks HTTPS and TLS on its TCP port:
give ``https://`` URLs, ``TcpClient(..., tls=True)``, and ``cafile=`` (a PEM file of the certificate
or its CA) when the certificate is not signed by a CA the system trusts.
``TcpClient`` speaks the length-prefixed TCP framing instead (see the README); its writes block
when the server stops reading, which is the TCP form of the same back-pressure.

Hooking a PyTorch layer (torch is not needed by this module; see example_torch_hook.py):

    handle = model.transformer.h[6].register_forward_hook(torch_hook(c))

Installed (``pip install ./clients/python``) it gives ``import proxstream_client`` and the command
``proxstream-push`` (the same as ``python3 proxstream_client.py``):

    proxstream-push files acts-000.npy acts-001.safetensors --url http://127.0.0.1:8080 --run layer6 --create
    proxstream-push synthetic --url http://127.0.0.1:8080 --run demo --dim 64 --features 128 \
        --rows 200000 --save-dictionary F.npy     # the planted-dictionary benchmark of spec/sae.md
"""

import argparse
import io
import json
import socket
import ssl
import struct
import sys
import time
import urllib.error
import urllib.request

import numpy as np

__all__ = ["Client", "TcpClient", "ProxstreamError", "torch_hook", "PlantedDictionary", "read_rows", "as_float32"]


class ProxstreamError(RuntimeError):
    """The server rejected a request; ``status`` is the HTTP status, the message its reason."""

    def __init__(self, status, message):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


class Client:
    """HTTP client of one run, on one server or failing over between several (``url``: a URL, a list of
    URLs, or URLs separated by commas)."""

    def __init__(self, url="http://127.0.0.1:8080", run="default", timeout=120.0, retry_seconds=120.0, token=None,
                 cafile=None):
        # the server's bearer token (serve --token-file / PROXSTREAM_TOKEN); None: the environment's, if any
        self.token = _token(token)
        # https: the certificates to trust (None: the system's)
        self._tls = ssl.create_default_context(cafile=cafile) if cafile else None
        urls = url.split(",") if isinstance(url, str) else list(url)
        self.urls = [u.strip().rstrip("/") for u in urls if u.strip()]
        if not self.urls:
            raise ValueError(f"no server URL in {url!r}")
        self._current = 0
        self.run = run
        self.timeout = timeout
        self.retry_seconds = retry_seconds
        self.failovers = 0

    @property
    def url(self):
        """The server URL in use."""
        return self.urls[self._current]

    # -- plumbing -----------------------------------------------------------------------------
    def _request(self, method, path, body=None, headers=None, retry=True):
        deadline = time.monotonic() + self.retry_seconds
        delay = 0.2
        while True:
            h = dict(headers or {})
            if self.token:
                h["Authorization"] = "Bearer " + self.token
            req = urllib.request.Request(self.url + path, data=body, method=method, headers=h)
            try:
                with urllib.request.urlopen(req, timeout=self.timeout, context=self._tls) as r:
                    data = r.read()
                    return r.status, data
            except urllib.error.HTTPError as e:
                data = e.read()
                if e.code == 503 and retry and time.monotonic() < deadline:
                    time.sleep(float(e.headers.get("Retry-After", "1")))
                    continue
                try:
                    msg = json.loads(data.decode()).get("error", data.decode())
                except ValueError:
                    msg = data.decode(errors="replace")
                raise ProxstreamError(e.code, msg) from None
            except (urllib.error.URLError, ConnectionError, socket.timeout) as e:
                if isinstance(getattr(e, "reason", None), ssl.SSLError) or isinstance(e, ssl.SSLError):
                    raise  # a certificate the client does not trust: failing over or retrying cannot help
                if retry and time.monotonic() < deadline:
                    # the next server of the list; after a whole round without an answer, wait before the next
                    self._current = (self._current + 1) % len(self.urls)
                    if len(self.urls) > 1:
                        self.failovers += 1
                    if self._current == 0 or len(self.urls) == 1:
                        time.sleep(delay)
                        delay = min(2.0, delay * 2)
                    continue
                raise

    def _json(self, method, path, payload=None, retry=True):
        body = None if payload is None else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"} if body is not None else {}
        _, data = self._request(method, path, body, headers, retry)
        return json.loads(data.decode())

    # -- API ----------------------------------------------------------------------------------
    def create_run(self, input_dim, **config):
        """Creates this client's run; ``config`` holds RunConfig keys (sae, trainer, batchSize, ...)."""
        return self._json("POST", "/runs", dict(config, name=self.run, inputDim=int(input_dim)))

    def push(self, x):
        """Pushes rows ``x`` ([rows, dim], any float dtype; sent as little-endian float32).
        Returns the number of rows accepted. Raises ProxstreamError when the batch is rejected."""
        x = np.ascontiguousarray(np.asarray(x, dtype="<f4"))
        if x.ndim != 2:
            raise ValueError(f"push takes a 2-D array [rows, dim], got shape {x.shape}")
        _, data = self._request("POST", f"/runs/{self.run}/batches", x.tobytes(),
                                {"Content-Type": "application/octet-stream", "X-Shape": f"{x.shape[0]},{x.shape[1]}"})
        return json.loads(data.decode())["accepted"]

    def push_npy(self, x):
        """Pushes ``x`` as an .npy body (keeps float16/float64 on the wire)."""
        buf = io.BytesIO()
        np.save(buf, np.asarray(x))
        _, data = self._request("POST", f"/runs/{self.run}/batches", buf.getvalue(), {"Content-Type": "application/x-npy"})
        return json.loads(data.decode())["accepted"]

    def status(self):
        return self._json("GET", f"/runs/{self.run}")

    def history(self, after=-1):
        return self._json("GET", f"/runs/{self.run}/history?after={after}")

    def checkpoint(self):
        return self._json("POST", f"/runs/{self.run}/checkpoint")

    def stop(self):
        return self._json("POST", f"/runs/{self.run}/stop")

    def export(self, directory):
        """Writes the SAELens export (cfg.json, sae_weights.safetensors) into ``directory``."""
        import os
        self._json("POST", f"/runs/{self.run}/export")
        os.makedirs(directory, exist_ok=True)
        for name in ("cfg.json", "sae_weights.safetensors"):
            _, data = self._request("GET", f"/runs/{self.run}/export/{name}")
            with open(os.path.join(directory, name), "wb") as f:
                f.write(data)
        return directory


def _token(token):
    import os
    t = token if token is not None else os.environ.get("PROXSTREAM_TOKEN", "")
    return t.strip() or None


class TcpClient:
    """TCP client: one length-prefixed frame per batch, one reply per frame (see the README)."""

    ACCEPTED, REJECTED, FATAL = 0, 1, 2

    def __init__(self, host="127.0.0.1", port=9090, run="default", timeout=300.0, token=None, tls=False, cafile=None):
        self.token = _token(token)
        # TLS (serve --tls-keystore): the certificates to trust are cafile's, else the system's
        self._tls = ssl.create_default_context(cafile=cafile) if (tls or cafile) else None
        self.addr = (host, port)
        self.run = run.encode("ascii")
        self.timeout = timeout
        self.sock = None

    def _connect(self):
        if self.sock is None:
            self.sock = socket.create_connection(self.addr, timeout=self.timeout)
            if self._tls is not None:
                self.sock = self._tls.wrap_socket(self.sock, server_hostname=self.addr[0])
            if self.token:
                # the authentication frame: 'A', version 1, token length, token; answered like a batch
                t = self.token.encode("utf-8")
                self.sock.sendall(struct.pack("<IBBB", 3 + len(t), 0x41, 1, len(t)) + t)
                (n,) = struct.unpack("<I", self._recv(4))
                body = self._recv(n)
                if body[0] != self.ACCEPTED:
                    self.close()
                    raise ProxstreamError(body[0], body[5:].decode("utf-8", errors="replace"))

    def _recv(self, n):
        out = bytearray()
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise ConnectionError("server closed the connection")
            out += chunk
        return bytes(out)

    def push(self, x):
        x = np.ascontiguousarray(np.asarray(x, dtype="<f4"))
        rows, cols = x.shape
        head = struct.pack("<BBBB", 0x50, 1, 1, len(self.run)) + self.run + struct.pack("<II", rows, cols)
        frame = struct.pack("<I", len(head) + x.nbytes) + head + x.tobytes()
        self._connect()
        try:
            self.sock.sendall(frame)
            (n,) = struct.unpack("<I", self._recv(4))
            body = self._recv(n)
        except OSError:
            self.close()
            raise
        status, accepted = struct.unpack("<BI", body[:5])
        reason = body[5:].decode("utf-8", errors="replace")
        if status == self.FATAL:
            self.close()
        if status != self.ACCEPTED:
            raise ProxstreamError(status, reason)
        return accepted

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def torch_hook(client, every=1):
    """A forward hook that pushes a layer's output ([..., dim] -> [-1, dim]) every ``every`` calls."""
    calls = [0]

    def hook(module, inputs, output):
        calls[0] += 1
        if calls[0] % every:
            return
        out = output[0] if isinstance(output, tuple) else output
        client.push(out.detach().reshape(-1, out.shape[-1]).float().cpu().numpy())

    return hook


class PlantedDictionary:
    """The synthetic benchmark: unit features F; feature i fires with p_i = decay^i * base / n, magnitude U(0,1)."""

    def __init__(self, dim, features, base=5.0, decay=0.99, seed=0):
        rng = np.random.default_rng(seed)
        f = rng.standard_normal((features, dim))
        self.F = (f / np.linalg.norm(f, axis=1, keepdims=True)).astype(np.float32)
        self.p = decay ** np.arange(features) * base / features
        self.rng = rng

    def sample(self, rows):
        fired = self.rng.random((rows, len(self.p))) < self.p
        c = fired * self.rng.random((rows, len(self.p)))
        return (c @ self.F).astype(np.float32)


def _synthetic(args):
    gen = PlantedDictionary(args.dim, args.features, seed=args.seed)
    if args.save_dictionary:
        np.save(args.save_dictionary, gen.F)
    if args.transport == "tcp":
        client = TcpClient(args.tcp_host, args.tcp_port, args.run, tls=args.url.startswith("https"), cafile=args.cafile)
        http = Client(args.url, args.run, cafile=args.cafile)
    else:
        client = http = Client(args.url, args.run, retry_seconds=args.retry_seconds, cafile=args.cafile)
    if args.create:
        try:
            http.create_run(args.dim, **json.loads(args.create))
        except ProxstreamError as e:
            if e.status != 409:
                raise
    sent = 0
    t0 = time.monotonic()
    while sent < args.rows:
        n = min(args.batch, args.rows - sent)
        x = gen.sample(n)
        while True:
            try:
                client.push(x)
                break
            except (ConnectionError, OSError):
                if args.transport != "tcp":
                    raise
                time.sleep(0.5)  # the server restarts: reconnect and resend this batch
        sent += n
        if args.progress and sent % (args.batch * args.progress) == 0:
            print(f"sent {sent} rows, {sent / (time.monotonic() - t0):.0f} rows/s", flush=True)
    print(f"done: {sent} rows in {time.monotonic() - t0:.1f} s", flush=True)


_SAFETENSORS_DTYPES = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "BF16": "<u2"}


def read_rows(path, tensor=None):
    """The rows of a 2-D ``.npy`` or ``.safetensors`` file as a read-only array (memory-mapped, not loaded):
    float16/32/64 as stored, bfloat16 as its raw 16 bits (``as_float32`` widens them). ``tensor`` names the
    safetensors tensor (default: the file's only one). Raises ValueError naming the file and the reason."""
    if path.endswith(".npy"):
        x = np.load(path, mmap_mode="r")
        if x.ndim != 2:
            raise ValueError(f"{path}: a 2-D array is needed, got shape {x.shape}")
        return x, "npy"
    if not path.endswith(".safetensors"):
        raise ValueError(f"{path}: not a .npy or .safetensors file")
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) != 8:
            raise ValueError(f"{path}: truncated (no header length)")
        (n,) = struct.unpack("<Q", head)
        try:
            header = json.loads(f.read(n).decode("utf-8"))
        except ValueError as e:
            raise ValueError(f"{path}: unreadable header: {e}") from None
    names = [k for k in header if k != "__metadata__"]
    if tensor is None:
        if len(names) != 1:
            raise ValueError(f"{path}: holds tensors {names}; choose one with --tensor")
        tensor = names[0]
    if tensor not in header:
        raise ValueError(f"{path}: no tensor '{tensor}' (has {names})")
    info = header[tensor]
    dtype = _SAFETENSORS_DTYPES.get(info.get("dtype"))
    shape = info.get("shape")
    if dtype is None or not shape or len(shape) != 2:
        raise ValueError(f"{path}: tensor '{tensor}' is {info.get('dtype')} {shape}; a 2-D F32, F64, F16 or BF16 tensor is needed")
    start, end = info["data_offsets"]
    if end - start != shape[0] * shape[1] * np.dtype(dtype).itemsize:
        raise ValueError(f"{path}: tensor '{tensor}' has {end - start} bytes for shape {shape}")
    x = np.memmap(path, dtype=dtype, mode="r", offset=8 + n + start, shape=tuple(shape))
    return x, info["dtype"]


def as_float32(block, kind):
    """A block of rows from ``read_rows`` as float32 (bfloat16: its 16 bits are the top half of a float32)."""
    if kind == "BF16":
        return (np.asarray(block, dtype="<u4") << 16).view("<f4")
    return np.asarray(block, dtype="<f4")


def _files(args):
    c = Client(args.url, args.run, retry_seconds=args.retry_seconds, cafile=args.cafile)
    total = 0
    t0 = time.monotonic()
    for path in args.files:
        x, kind = read_rows(path, args.tensor)
        if args.create is not None and total == 0:
            try:
                c.create_run(int(x.shape[1]), **json.loads(args.create or "{}"))
            except ProxstreamError as e:
                if e.status != 409:
                    raise
        for lo in range(0, x.shape[0], args.batch):
            total += c.push(as_float32(x[lo:lo + args.batch], kind))
        print(f"{path}: {x.shape[0]} rows of width {x.shape[1]} ({kind}) pushed to run '{args.run}' at {c.url}", flush=True)
    print(f"done: {total} rows in {time.monotonic() - t0:.1f} s", flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="proxstream-push", description="Push activations to a running proxstream serve.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    fl = sub.add_parser("files", help="push the rows of .npy / .safetensors files (2-D; f16, bf16, f32, f64)")
    fl.add_argument("files", nargs="+", metavar="FILE")
    fl.add_argument("--url", default="http://127.0.0.1:8080",
                    help="server URL, or several separated by commas: on a connection error the next one is tried")
    fl.add_argument("--run", default="demo")
    fl.add_argument("--batch", type=int, default=4096, help="rows per push")
    fl.add_argument("--tensor", default=None, help="safetensors: the tensor to read (default: the file's only one)")
    fl.add_argument("--create", nargs="?", const="{}", default=None,
                    help="create the run first (width from the first file), with this JSON RunConfig; an existing run is kept")
    fl.add_argument("--retry-seconds", type=float, default=300.0)
    fl.add_argument("--cafile", default=None, help="https: PEM file of the server's certificate or CA (default: the system's)")
    s = sub.add_parser("synthetic", help="stream the planted-dictionary benchmark")
    s.add_argument("--url", default="http://127.0.0.1:8080",
                   help="server URL, or several separated by commas: on a connection error the next one is tried")
    s.add_argument("--run", default="demo")
    s.add_argument("--dim", type=int, default=64)
    s.add_argument("--features", type=int, default=128)
    s.add_argument("--rows", type=int, default=100000)
    s.add_argument("--batch", type=int, default=1024)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--transport", choices=["http", "tcp"], default="http")
    s.add_argument("--tcp-host", default="127.0.0.1")
    s.add_argument("--tcp-port", type=int, default=9090)
    s.add_argument("--create", default="", help="create the run first with this JSON RunConfig (e.g. '{}')")
    s.add_argument("--save-dictionary", default="", help="write the planted features to this .npy file")
    s.add_argument("--retry-seconds", type=float, default=300.0)
    s.add_argument("--cafile", default=None, help="https/TLS: PEM file of the server's certificate or CA (default: the system's)")
    s.add_argument("--progress", type=int, default=0, help="print every N batches")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "synthetic":
            _synthetic(args)
        else:
            _files(args)
    except (ValueError, ProxstreamError, OSError) as e:
        print(f"proxstream-push: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
