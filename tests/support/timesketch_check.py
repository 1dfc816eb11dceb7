#!/usr/bin/env python3
"""Feeds a Timesketch JSONL file to the `timesketch-import-client` package's own streamer
(`ImportStreamer.add_json`, the path `timesketch_importer` takes for a .jsonl file), with the
upload replaced by a capture, and checks every entry as the streamer left it: the JSON is
accepted, `message` and `timestamp_desc` are there, and `datetime` was parsed by the
importer (`dateutil`) to the same instant as `timestamp`.

Usage: timesketch_check.py FILE.jsonl  -> prints "ok N" or exits 1 with the first problem.
"""
import datetime
import sys

from timesketch_import_client import importer


class Capture(importer.ImportStreamer):
    def __init__(self):
        super().__init__()
        self.entries = []
        self._sketch = object()  # no server: _ready() only checks that a sketch is set

    def _upload_data_buffer(self, end_stream, data_lines=None, retry_count=0):
        self.entries.extend(self._data_lines)

    def flush(self, end_stream=True):
        self.entries.extend(self._data_lines)
        self._data_lines = []


def main(path):
    s = Capture()
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            try:
                s.add_json(line)
            except (TypeError, ValueError) as e:
                print(f"line {n}: rejected: {e}")
                return 1
    s.flush()
    if not s.entries:
        print("no entries")
        return 1
    for n, e in enumerate(s.entries, 1):
        for k in ("message", "datetime", "timestamp_desc"):
            if not e.get(k):
                print(f"entry {n}: {k} missing or empty after the importer: {e}")
                return 1
        dt = datetime.datetime.fromisoformat(e["datetime"])
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=datetime.timezone.utc)
        us = (dt - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)) // datetime.timedelta(microseconds=1)
        if us != e["timestamp"]:
            print(f"entry {n}: importer read datetime {e['datetime']} as {us} us, timestamp says {e['timestamp']}")
            return 1
    print(f"ok {len(s.entries)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
