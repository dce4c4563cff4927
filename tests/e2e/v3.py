# SPDX-License-Identifier: BSD-3-Clause
"""A protocol version 3 client end, written from docs/PROTOCOL.md sections 2, 3 and 13 alone.

The handshake (HELLO, CHALLENGE, AUTH, WELCOME), the session keys (HKDF-SHA256)
and the seal of every datagram of an authenticated session: ChaCha20-Poly1305
IETF through PyNaCl (python3-nacl), or, when asked (aes=True) and the broker
keeps SL_CAP_AESGCM, AES-256-GCM through python3-cryptography's AESGCM. Used
by the end-to-end test clients.
"""
import hashlib
import hmac
import os
import socket
import struct
import sys
import time

try:
    from nacl import bindings as _nacl
except ImportError:  # a Python of its own (pyenv) next to Debian's python3-nacl
    sys.path.append("/usr/lib/python3/dist-packages")
    try:
        from nacl import bindings as _nacl
    except ImportError:
        _nacl = None
try:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM as _AESGCM
except ImportError:
    sys.path.append("/usr/lib/python3/dist-packages")
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM as _AESGCM
    except ImportError:
        _AESGCM = None

VERSION = 3
HELLO_VERSION = 1
HELLO, CHALLENGE, AUTH, WELCOME, GOODBYE, SEAL = 0x01, 0x02, 0x03, 0x04, 0x05, 0x09
ERROR = 0x7F
CAP_AUTH, CAP_ENC, CAP_AESGCM = 1, 2, 4
WELCOME_F_AUTH, WELCOME_F_ENC, WELCOME_F_AESGCM = 1, 2, 4
SEAL_F_ENC = 1
HELLO_LEN, AUTH_LEN, SEAL_HDR, TAG = 96, 152, 24, 16
DIR_C2S, DIR_S2C = 0, 1
E_HANDSHAKE = 28


def hdr(t, length, session, flags=0, version=VERSION):
    return struct.pack("<BBHIII", version, t, flags, length, session, 0)


def frames(d):
    """(type, frame bytes) for each frame of datagram @d (8-byte aligned framing)."""
    off = 0
    while off + 16 <= len(d):
        length = struct.unpack_from("<I", d, off + 4)[0]
        if length < 16 or off + length > len(d):
            return
        yield d[off + 1], d[off:off + length]
        off += (length + 7) & ~7


def hello(nonce, caps=0, name=b""):
    """HELLO: header version 1, versions 3..3, zero padded to 96 bytes."""
    body = struct.pack("<HHIQ", VERSION, VERSION, caps, nonce) + name[:31].ljust(32, b"\0")
    return hdr(HELLO, HELLO_LEN, 0, version=HELLO_VERSION) + body + bytes(HELLO_LEN - 16 - len(body))


def auth(ch, name=b"", key=None):
    """AUTH answering CHALLENGE @ch: (frame, client_nonce, server_nonce)."""
    nonce, version, _, caps, issued = struct.unpack_from("<QHHIQ", ch, 16)
    sn, cookie = ch[40:56], ch[56:72]
    cn = os.urandom(16)
    name = name[:31].ljust(32, b"\0")
    proof = bytes(32)
    if key is not None:
        proof = hmac.new(key, b"sluice-auth-v3" + struct.pack("<QHIQ", nonce, version, caps, issued) +
                         sn + cookie + cn + name, hashlib.sha256).digest()
    body = struct.pack("<QHHIQ", nonce, version, 0, caps, issued) + sn + cookie + cn + name + proof
    return hdr(AUTH, AUTH_LEN, 0) + body, cn, sn


def keys(key, sn, cn, aes=False):
    """(k_c2s, k_s2c): HKDF-SHA256, salt server_nonce || client_nonce, IKM the user key;
    the AES-256-GCM suite has labels of its own."""
    suite = b"aes " if aes else b""
    prk = hmac.new(sn + cn, key, hashlib.sha256).digest()
    c2s = hmac.new(prk, b"sluice-v3 " + suite + b"client->broker\x01", hashlib.sha256).digest()
    s2c = hmac.new(prk, b"sluice-v3 " + suite + b"broker->client\x01", hashlib.sha256).digest()
    return c2s, s2c


def _aead_enc(key, nonce, pt, ad, aes):
    """ciphertext || tag."""
    if aes:
        return _AESGCM(key).encrypt(nonce, pt, ad)
    return _nacl.crypto_aead_chacha20poly1305_ietf_encrypt(pt, ad, nonce, key)


def _aead_dec(key, nonce, ct, ad, aes):
    """The plaintext of ciphertext || tag; raises when the tag does not hold."""
    if aes:
        return _AESGCM(key).decrypt(nonce, ct, ad)
    return _nacl.crypto_aead_chacha20poly1305_ietf_decrypt(ct, ad, nonce, key)


def _nonce(direction, seq):
    return struct.pack("<IQ", direction, seq)


def seal(key, direction, seq, session, inner, enc=False, aes=False):
    """One SEAL datagram around @inner (whole frames): header, inner, tag."""
    inner = inner + bytes(-len(inner) % 8)
    length = SEAL_HDR + len(inner) + TAG
    h = hdr(SEAL, length, session, flags=SEAL_F_ENC if enc else 0) + struct.pack("<Q", seq)
    n = _nonce(direction, seq)
    if enc:
        return h + _aead_enc(key, n, inner, h, aes)
    return h + inner + _aead_enc(key, n, b"", h + inner, aes)


def unseal(key, direction, d, aes=False):
    """(seq, session, inner bytes) of SEAL datagram @d, or None if its tag does not hold."""
    if len(d) < SEAL_HDR + TAG or d[1] != SEAL:
        return None
    flags, length, session = struct.unpack_from("<HII", d, 2)
    seq = struct.unpack_from("<Q", d, 16)[0]
    if length != len(d) or length % 8:
        return None
    n = _nonce(direction, seq)
    try:
        if flags & SEAL_F_ENC:
            inner = _aead_dec(key, n, d[SEAL_HDR:], d[:SEAL_HDR], aes)
        else:
            _aead_dec(key, n, d[-TAG:], d[:-TAG], aes)
            inner = d[SEAL_HDR:-TAG]
    except Exception:  # CryptoError, InvalidTag: a forged or damaged datagram
        return None
    return seq, session, inner


class Window:
    """Replay window of 1,024 over the broker's transport sequence."""

    def __init__(self):
        self.top, self.seen = 0, set()

    def accept(self, seq):
        if seq == 0 or seq + 1024 <= self.top or seq in self.seen:
            return False
        self.seen.add(seq)
        if seq > self.top:
            self.top = seq
            self.seen = {s for s in self.seen if s + 1024 > seq}
        return True


class Session:
    """One session over a connected UDP socket @s: open, or authenticated (sealed)."""

    def __init__(self, s, user=None, key=None, encrypt=False, name=b"v3", timeout=5.0, aes=False):
        self.s, self.key, self.id = s, key, 0
        self.tx_seq, self.win = 0, Window()
        self.c2s = self.s2c = None
        self.forged = 0
        self.enc = False
        self.aes = False  # the session's suite: AES-256-GCM, else ChaCha20-Poly1305
        self.user = user.encode() if isinstance(user, str) else user
        if aes and _AESGCM is None:
            raise SystemExit("v3: AES-256-GCM asked for, python3-cryptography missing")
        caps = (CAP_AUTH if key is not None else 0) | (CAP_ENC if encrypt else 0) | \
            (CAP_AESGCM if aes and key is not None else 0)
        who = self.user if key is not None else name
        end = time.time() + timeout
        while time.time() < end:
            nonce = int.from_bytes(os.urandom(8), "little")
            ch = self._request(hello(nonce, caps, who), CHALLENGE, nonce, end)
            if ch is None:
                continue
            a, cn, sn = auth(ch, who, key)
            # The CHALLENGE's caps choose the suite; an added bit is no broker's.
            chcaps = struct.unpack_from("<I", ch, 28)[0]
            if chcaps & ~caps:
                continue
            self.aes = bool(chcaps & CAP_AESGCM)
            if key is not None:
                self.c2s, self.s2c = keys(key, sn, cn, self.aes)
            w = self._request(a, WELCOME, nonce, end)
            if w is None:
                continue  # a stale cookie (SL_E_HANDSHAKE): start again
            self.id = struct.unpack_from("<I", w, 16)[0]
            self.welcome = w
            wflags = struct.unpack_from("<H", w, 2)[0]
            self.enc = bool(wflags & WELCOME_F_ENC)
            if bool(wflags & WELCOME_F_AESGCM) != self.aes:
                raise SystemExit("v3: the WELCOME names another suite than the CHALLENGE")
            self.timeout_ms = struct.unpack_from("<I", w, 52)[0]
            return
        raise SystemExit("v3: no session with the broker")

    def _request(self, data, want, nonce, end):
        for _ in range(10):
            if time.time() > end:
                return None
            self.s.send(data)
            t_end = time.time() + 0.3
            while time.time() < t_end:
                try:
                    d = self.s.recv(65536)
                except socket.timeout:
                    break
                if want == WELCOME and self.s2c is not None:
                    # Authenticated: the WELCOME comes sealed under k_s2c.
                    o = unseal(self.s2c, DIR_S2C, d, self.aes)
                    if o is None:
                        d = d  # maybe an ERROR in the clear
                    elif self.win.accept(o[0]):
                        for t, f in frames(o[2]):
                            if t == WELCOME and struct.unpack_from("<Q", f, 24)[0] == nonce:
                                return f
                        continue
                for t, f in frames(d):
                    if t == want and want == CHALLENGE and struct.unpack_from("<Q", f, 16)[0] == nonce:
                        return f
                    if t == want and want == WELCOME and self.s2c is None and \
                            struct.unpack_from("<Q", f, 24)[0] == nonce:
                        return f
                    if t == ERROR and struct.unpack_from("<Q", f, 24)[0] == nonce:
                        code = struct.unpack_from("<H", f, 20)[0]
                        if code == E_HANDSHAKE:
                            return None
                        raise SystemExit(f"v3: broker refused the handshake: error {code}")
        return None

    def wrap(self, inner, seq=None):
        """The datagram carrying @inner (whole frames): sealed when authenticated."""
        if self.c2s is None:
            return inner
        if seq is None:
            self.tx_seq += 1
            seq = self.tx_seq
        return seal(self.c2s, DIR_C2S, seq, self.id, inner, self.enc, self.aes)

    def send(self, inner):
        self.s.send(self.wrap(inner))

    def unwrap(self, d):
        """The frames of received datagram @d: [(type, frame)]; forged ones dropped (counted)."""
        if self.s2c is None:
            return [(t, f) for t, f in frames(d)]
        o = unseal(self.s2c, DIR_S2C, d, self.aes)
        if o is None or o[1] != self.id or not self.win.accept(o[0]):
            # An unsealed ERROR answering a handshake, or a forgery.
            if len(d) >= 32 and d[1] == ERROR and struct.unpack_from("<I", d, 8)[0] == 0:
                return [(t, f) for t, f in frames(d)]
            self.forged += 1
            return []
        return [(t, f) for t, f in frames(o[2]) if struct.unpack_from("<I", f, 8)[0] == self.id]

    def recv(self, size=65536):
        return self.unwrap(self.s.recv(size))

    def request(self, inner, want, tries=25):
        """Send @inner until a frame of type @want comes back; that frame."""
        for _ in range(tries):
            self.send(inner)
            end = time.time() + 0.2
            while time.time() < end:
                try:
                    got = self.recv()
                except socket.timeout:
                    break
                for t, f in got:
                    if t == want:
                        return f
        raise SystemExit(f"v3: no reply {want:#x}")


def connect(host, port, **kw):
    """A session to HOST:PORT over a new connected socket (timeout 0.2 s)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((host, port))
    s.settimeout(0.2)
    return Session(s, **kw)
