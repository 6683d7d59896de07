-- One database per service: each owns its state.
CREATE DATABASE marquee_feeds OWNER marquee;
CREATE DATABASE marquee_reviews OWNER marquee;
CREATE DATABASE marquee_social OWNER marquee;
CREATE DATABASE marquee_listings OWNER marquee;
CREATE DATABASE marquee_digest OWNER marquee;
