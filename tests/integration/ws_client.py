"""A small RFC 6455 WebSocket client for the integration tests (only the Python
standard library: PyPI is not reachable from the test machines).

Client side only: masks what it sends, reads text, ping and close frames, answers
pings, and reports the close code and reason the server sent."""
import base64
import collections
import hashlib
import json
import os
import socket
import struct

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class WebSocketClosed(Exception):
    def __init__(self, code, reason):
        super().__init__(f"closed with {code} {reason!r}")
        self.code = code
        self.reason = reason


class HandshakeRefused(Exception):
    def __init__(self, status, body):
        super().__init__(f"handshake refused: {status} {body[:200]!r}")
        self.status = status
        self.body = body


class WebSocket:
    def __init__(self, port, path, timeout=10, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:  # before connecting, so the advertised window is small too
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.sock.sendall(request.encode())
        self.buffer = b""
        self.pending = collections.deque()  # events of a batch not yet returned by recv()
        self.messages = 0  # WebSocket messages read (a batch of events is one)
        head = self._read_until(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        if status != 101:
            length = int(headers.get("content-length", "0"))
            body = self._read_exact(length) if length else b""
            self.sock.close()
            raise HandshakeRefused(status, body)
        expected = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        if headers.get("sec-websocket-accept") != expected:
            raise AssertionError("bad Sec-WebSocket-Accept")
        self.closed = None

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise WebSocketClosed(1006, "connection dropped")
        self.buffer += data

    def _read_until(self, marker):
        while marker not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(marker, 1)
        return head

    def _read_exact(self, n):
        while len(self.buffer) < n:
            self._fill()
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def _send_frame(self, opcode, payload):
        header = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def send_text(self, text):
        self._send_frame(0x1, text.encode())

    def recv(self, timeout=10):
        """The next event, a parsed JSON object; a message carrying an array of events
        gives them one per call, in order. Raises WebSocketClosed on close."""
        if not self.pending:
            value = self.recv_message(timeout)
            self.pending.extend(value if isinstance(value, list) else [value])
        return self.pending.popleft()

    def recv_message(self, timeout=10):
        """The next text message as a parsed JSON value; raises WebSocketClosed on close."""
        self.sock.settimeout(timeout)
        message = b""
        while True:
            b0, b1 = self._read_exact(2)
            opcode = b0 & 0x0F
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read_exact(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read_exact(8))[0]
            if b1 & 0x80:
                raise AssertionError("server frames must not be masked")
            payload = self._read_exact(n)
            if opcode == 0x9:  # ping
                self._send_frame(0xA, payload)
                continue
            if opcode == 0xA:
                continue
            if opcode == 0x8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                reason = payload[2:].decode("utf-8", "replace")
                self.closed = (code, reason)
                try:
                    self._send_frame(0x8, payload[:2])
                except OSError:
                    pass
                raise WebSocketClosed(code, reason)
            message += payload
            if b0 & 0x80:
                self.messages += 1
                return json.loads(message.decode("utf-8"))

    def close(self, abrupt=False):
        try:
            if not abrupt:
                self._send_frame(0x8, struct.pack("!H", 1000))
            self.sock.close()
        except OSError:
            pass
