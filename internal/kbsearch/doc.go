// Package kbsearch finds knowledge-base articles for the questions people
// type ("vpn连不上", "outlook 收不到邮件"): an in-memory index, fed by the
// desk from its store, with no database and no HTTP of its own.
//
// Chinese is cut into words by github.com/go-ego/gse, a maintained
// pure-Go segmenter (Apache-2.0, no cgo) with the jieba dictionary. It was
// chosen over bleve's CJK analyzer, which indexes overlapping character
// pairs: pairs find substrings but rank "打印" inside "打印机" no better
// than "印机", and bleve would bring a storage engine the desk does not
// need. gse's full dictionary costs 3 s and 130 MB to load, so the package
// embeds its own copy cut to the words of frequency 10 or more (1.5 MB,
// 109,000 words, 0.5 s and about 35 MB, loaded once per process) plus a
// short dictionary of service-desk words such as "连不上" and "共享盘";
// it never calls gse's own embedded dictionaries, so they stay out of the
// binary.
//
// Ranking is BM25F over the title (weight 3), tags (2) and body (1, Markdown
// stripped). A query is cut precisely into words; each word is matched as
// typed, through the synonyms an admin set (SetSynonyms), through the
// shorter dictionary words inside it, and for a Latin word the index lacks,
// through indexed words one edit away (two from eight letters); a Chinese
// word no article uses is matched by its characters ("好卡" by "卡"). A word
// scores by its best match only, and an article matching more of the
// query's words ranks higher.
package kbsearch
