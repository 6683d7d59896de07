// The second peer of benches/render.rs: the npm `feed` package (6.0.0)
// rendering the same items as RSS 2.0, Atom 1.0 and JSON Feed.
//
// Usage: node feed_peer.mjs NODE_MODULES_PARENT ITEMS.json REPETITIONS
// Prints the mean seconds to render the three documents once.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [modules, itemsFile, repetitionsArg] = process.argv.slice(2);
const { Feed } = await import(
  pathToFileURL(join(modules, "node_modules", "feed", "lib", "feed.js")).href
);
const items = JSON.parse(readFileSync(itemsFile, "utf8"));
const repetitions = Number(repetitionsArg);

function render() {
  const feed = new Feed({
    title: "Marquee",
    description: "Every review and feature, newest first.",
    id: "urn:uuid:00000000-0000-0000-0000-000000000001",
    link: "https://marquee.example/",
    updated: new Date(items[0].updated_at),
    generator: "Marquee",
    feedLinks: { atom: "https://marquee.example/feeds/all.atom" },
    author: { name: "Marquee" },
    copyright: "",
  });
  for (const item of items) {
    feed.addItem({
      title: item.headline,
      id: item.guid,
      link: item.url,
      description: item.standfirst,
      content: item.body_html,
      author: [{ name: item.author }],
      date: new Date(item.updated_at),
      published: new Date(item.published_at),
    });
  }
  return feed.rss2().length + feed.atom1().length + feed.json1().length;
}

render();
const started = process.hrtime.bigint();
for (let n = 0; n < repetitions; n++) render();
console.log(Number(process.hrtime.bigint() - started) / 1e9 / repetitions);
