"""The peer of benches/render.rs: Python feedgen rendering the same items.

Usage: feedgen_peer.py ITEMS.json REPETITIONS
Prints the mean seconds to render RSS 2.0 + Atom 1.0 (feedgen) + JSON Feed 1.1
(json.dumps; feedgen has no JSON Feed writer) once.
"""

import json
import sys
import time

from feedgen.feed import FeedGenerator


def render(items):
    fg = FeedGenerator()
    fg.id("urn:uuid:00000000-0000-0000-0000-000000000001")
    fg.title("Marquee")
    fg.subtitle("Every review and feature, newest first.")
    fg.link(href="https://marquee.example/", rel="alternate")
    fg.link(href="https://marquee.example/feeds/all.atom", rel="self")
    fg.author({"name": "Marquee"})
    for item in items:
        fe = fg.add_entry(order="append")
        fe.id(item["guid"])
        fe.title(item["headline"])
        fe.link(href=item["url"])
        fe.summary(item["standfirst"])
        fe.content(item["body_html"], type="html")
        fe.author({"name": item["author"]})
        fe.published(item["published_at"])
        fe.updated(item["updated_at"])
    rss = fg.rss_str()
    atom = fg.atom_str()
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Marquee",
        "home_page_url": "https://marquee.example/",
        "items": [
            {
                "id": i["guid"],
                "url": i["url"],
                "title": i["headline"],
                "summary": i["standfirst"],
                "content_html": i["body_html"],
                "date_published": i["published_at"],
                "date_modified": i["updated_at"],
                "authors": [{"name": i["author"]}],
            }
            for i in items
        ],
    }
    return len(rss) + len(atom) + len(json.dumps(feed))


def main():
    items = json.load(open(sys.argv[1]))
    repetitions = int(sys.argv[2])
    render(items)
    started = time.perf_counter()
    for _ in range(repetitions):
        render(items)
    print((time.perf_counter() - started) / repetitions)


main()
