"""A real SMTP server on loopback for Doorway's email tests (crates/server/tests/email).

    python smtp_sink.py PORT DIR

Listens on 127.0.0.1:PORT (aiosmtpd) and writes each received message into DIR as two files:
NNNN.eml (the message as received) and NNNN.json ({"from", "to", "subject", "text"}, the text
part decoded from its transfer encoding: quoted-printable or base64), the .json last and
renamed into place, so a reader never sees half a message. Prints "ready" once listening and
runs until killed.
"""

import email
import email.policy
import json
import os
import sys
import threading

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        part = message.get_body(preferencelist=("plain",))
        text = part.get_content() if part is not None else ""
        with self.lock:
            self.count += 1
            stem = os.path.join(self.directory, f"{self.count:04d}")
        with open(stem + ".eml", "wb") as f:
            f.write(envelope.content)
        record = {
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "subject": str(message["subject"] or ""),
            "text": text,
        }
        with open(stem + ".tmp", "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.replace(stem + ".tmp", stem + ".json")
        return "250 Message accepted for delivery"


def main():
    port = int(sys.argv[1])
    directory = sys.argv[2]
    os.makedirs(directory, exist_ok=True)
    controller = Controller(Sink(directory), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    try:
        threading.Event().wait()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
