"""WebSocket clients for the integration tests, on Debian's python3-websockets.

Debian 12 ships websockets 10.4, whose only client is the asyncio one
(`websockets.sync` came in 12.0). `WebSocket` drives it from plain sequential test
code: each connection has its own event loop, and each call runs that loop until
the call returns. So nothing is read from the socket while the test is not in a
call, as with a page that stops reading, which the slow-client tests rely on."""
import asyncio
import json
import socket

import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatusCode


class WebSocketClosed(Exception):
    def __init__(self, code, reason):
        super().__init__(f"closed with {code} {reason!r}")
        self.code = code
        self.reason = reason


class HandshakeRefused(Exception):
    def __init__(self, status):
        super().__init__(f"handshake refused: {status}")
        self.status = status


class WebSocket:
    def __init__(self, port, path, timeout=10, rcvbuf=None):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:  # before connecting, so the advertised window is small too
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.settimeout(timeout)
        sock.connect(("127.0.0.1", port))
        sock.setblocking(False)
        self.loop = asyncio.new_event_loop()
        self.messages = 0  # WebSocket messages read (a batch of events is one)
        self.pending = []  # events of a batch not yet returned by recv()

        async def open_connection():
            # No compression and no client pings: the frames are those a test expects
            # to count, and a test that stops reading must not be closed by its own client.
            return await websockets.connect(f"ws://127.0.0.1:{port}{path}", sock=sock, open_timeout=timeout,
                                            compression=None, ping_interval=None, max_size=None)
        try:
            self.conn = self._run(open_connection(), timeout)
        except InvalidStatusCode as e:
            self._shutdown()
            raise HandshakeRefused(e.status_code) from None
        except BaseException:
            self._shutdown()
            raise

    def _run(self, coroutine, timeout):
        return self.loop.run_until_complete(asyncio.wait_for(coroutine, timeout))

    def send_text(self, text):
        self._run(self.conn.send(text), 10)

    def write_raw(self, data):
        """Writes `data` as it is onto the connection, for tests whose point is a
        malformed frame the library would refuse to send."""
        self.conn.transport.write(data)
        self._run(asyncio.sleep(0), 10)

    def recv(self, timeout=10):
        """The next event, a parsed JSON object; a message carrying an array of events
        gives them one per call, in order. Raises WebSocketClosed on close and
        TimeoutError when nothing arrives within `timeout` seconds."""
        if not self.pending:
            value = self.recv_message(timeout)
            self.pending = value if isinstance(value, list) else [value]
        return self.pending.pop(0)

    def recv_message(self, timeout=10):
        """The next text message as a parsed JSON value."""
        try:
            text = self._run(self.conn.recv(), timeout)
        except ConnectionClosed as e:
            raise WebSocketClosed(e.code, e.reason) from None
        self.messages += 1
        return json.loads(text)

    def close(self, abrupt=False):
        """A close handshake (1000), or with `abrupt` a dropped TCP connection."""
        try:
            if abrupt:
                self.conn.transport.abort()
            else:
                self._run(self.conn.close(), 10)
        except (OSError, ConnectionClosed, TimeoutError):
            pass
        self._shutdown()

    def _shutdown(self):
        tasks = asyncio.all_tasks(self.loop)
        for task in tasks:
            task.cancel()
        if tasks:
            self.loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        self.loop.close()
