#!/usr/bin/env python3
"""A loopback SMTP sink for tests and benchmarks.

    smtp-sink.py PORT DIR

Accepts every message on 127.0.0.1:PORT and writes it to DIR as
NNNNNNNN.eml. While DIR/fail exists, answers DATA with 451 (a transient
failure), so tests can make the relay fail and recover; an address
listed in DIR/refuse (one a line) is refused at RCPT with 550 5.1.1, as
a mailbox that does not exist. Prints "ready"
once listening. With DIR "-" it keeps only a count (for benchmarks).
"""
import asyncio
import itertools
import os
import sys

try:
    from aiosmtpd.controller import Controller
except ImportError:
    sys.stderr.write("aiosmtpd is not installed: run `pip install aiosmtpd`\n")
    sys.exit(3)


class Sink:
    def __init__(self, directory):
        self.directory = directory
        # A restarted sink numbers on after what it kept.
        kept = 0 if directory == "-" else sum(1 for f in os.listdir(directory) if f.endswith(".eml"))
        self.counter = itertools.count(kept)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.directory != "-":
            refuse = os.path.join(self.directory, "refuse")
            if os.path.exists(refuse):
                with open(refuse) as f:
                    if address.lower() in (line.strip().lower() for line in f):
                        return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.directory != "-":
            if os.path.exists(os.path.join(self.directory, "fail")):
                return "451 4.3.0 Try again later"
            n = next(self.counter)
            path = os.path.join(self.directory, f"{n:08d}.eml")
            tmp = path + ".tmp"
            with open(tmp, "wb") as f:
                f.write(envelope.original_content or envelope.content)
            os.rename(tmp, path)
        return "250 OK"


def main():
    port, directory = int(sys.argv[1]), sys.argv[2]
    controller = Controller(Sink(directory), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    try:
        asyncio.new_event_loop().run_forever()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
