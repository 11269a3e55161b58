// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * YAML into a tree, from libyaml's event parser.  The document loader would
 * expand aliases and keep no column of its own for problems we find later,
 * and it has no bound on size; building the tree from events lets us refuse
 * what a topology never needs (anchors, aliases, tags, several documents)
 * at the place it is written, and bound depth and node count while reading.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "config.h"

/* What libyaml resolves the "!!" handle to. */
#define TAG_PREFIX "tag:yaml.org,2002:"

/*
 * Every node, string and array of a tree comes from one arena of chunks:
 * a topology of 10,000 rules is some 130,000 nodes, and a malloc and a
 * free for each of them (and for each string) cost as much as libyaml's
 * own parse.  Nothing of a tree is freed before the whole tree is.
 */
struct config_chunk {
	struct config_chunk *next;
	size_t used;
	size_t size;
	void *data[];		/* nodes need no more alignment than a pointer */
};

#define CHUNK_SIZE (64u << 10)

struct builder {
	struct config_problems *problems;
	struct config_chunk *chunks;
	struct config_node *root;
	/* The open mappings and sequences, outermost first. */
	struct config_node *open[CONFIG_MAX_DEPTH];
	/* For an open mapping: its key that still waits for a value. */
	struct config_node *pending_key[CONFIG_MAX_DEPTH];
	/*
	 * The items or pairs of the open collection at each depth grow here
	 * (one buffer per depth, reused by the next collection there); its
	 * end copies them into the arena, at their final size.
	 */
	void *scratch[CONFIG_MAX_DEPTH];
	size_t scratch_size[CONFIG_MAX_DEPTH];	/* bytes */
	size_t depth;
	size_t n_nodes;
	bool stop;		/* a problem after which the tree is unusable */
};

void config_problems__add(struct config_problems *problems, unsigned int line,
			  unsigned int column, const char *fmt, ...)
{
	struct config_problem *p;
	va_list ap;
	char *msg;
	int ret;

	if (problems->count == CONFIG_MAX_PROBLEMS) {
		problems->too_many = true;
		return;
	}
	if (problems->count == problems->capacity) {
		size_t cap = problems->capacity ? problems->capacity * 2 : 8;

		p = realloc(problems->items, cap * sizeof(*p));
		if (!p) {
			problems->out_of_memory = true;
			return;
		}
		problems->items = p;
		problems->capacity = cap;
	}
	va_start(ap, fmt);
	ret = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (ret < 0) {
		problems->out_of_memory = true;
		return;
	}
	p = &problems->items[problems->count++];
	p->line = line;
	p->column = column;
	p->message = msg;
}

/* Sorts pointers into the items array, whose order is the finding order. */
static int compare_problems(const void *a, const void *b)
{
	const struct config_problem *x = *(const struct config_problem *const *)a;
	const struct config_problem *y = *(const struct config_problem *const *)b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->column != y->column)
		return x->column < y->column ? -1 : 1;
	return x < y ? -1 : x > y;
}

size_t config_problems__flush(struct config_problems *problems, const char *file,
			      struct tcspan_error *err)
{
	struct config_problem **sorted = NULL;
	size_t i, n = problems->count;

	if (n)
		sorted = calloc(n, sizeof(*sorted));
	for (i = 0; sorted && i < n; i++)
		sorted[i] = &problems->items[i];
	if (sorted)
		qsort(sorted, n, sizeof(*sorted), compare_problems);
	for (i = 0; i < n; i++) {
		/* Without memory to sort, finding order is still every problem. */
		const struct config_problem *p = sorted ? sorted[i] : &problems->items[i];

		if (p->line)
			tcspan_error__add(err, -EINVAL, "%s:%u:%u: error: %s", file,
					  p->line, p->column, p->message);
		else
			tcspan_error__add(err, -EINVAL, "%s: error: %s", file, p->message);
	}
	if (problems->too_many) {
		tcspan_error__add(err, -EINVAL, "%s: error: more than %d problems; the "
				  "file was read no further", file, CONFIG_MAX_PROBLEMS);
		n++;
	}
	if (problems->out_of_memory) {
		tcspan_error__add(err, -ENOMEM, "%s: error: out of memory", file);
		n++;
	}
	free(sorted);
	for (i = 0; i < problems->count; i++)
		free(problems->items[i].message);
	problems->count = 0;
	problems->out_of_memory = false;
	problems->too_many = false;
	return n;
}

void config_problems__free(struct config_problems *problems)
{
	size_t i;

	if (!problems)
		return;
	for (i = 0; i < problems->count; i++)
		free(problems->items[i].message);
	free(problems->items);
	problems->items = NULL;
	problems->count = problems->capacity = 0;
}

void config_tree__free(struct config_tree *tree)
{
	struct config_chunk *c, *next;

	if (!tree)
		return;
	for (c = tree->chunks; c; c = next) {
		next = c->next;
		free(c);
	}
	tree->chunks = NULL;
	tree->root = NULL;
}

static void *arena_alloc(struct builder *b, size_t size)
{
	const size_t align = sizeof(void *);
	struct config_chunk *c = b->chunks;
	size_t need = (size + align - 1) / align * align;
	void *p;

	if (!c || c->size - c->used < need) {
		size_t size_c = need > CHUNK_SIZE ? need : CHUNK_SIZE;

		c = malloc(sizeof(*c) + size_c);
		if (!c) {
			b->problems->out_of_memory = true;
			b->stop = true;
			return NULL;
		}
		c->used = 0;
		c->size = size_c;
		/* A large array gets a chunk of its own behind the current one,
		 * so that the room left in that one is not lost. */
		if (b->chunks && size_c > CHUNK_SIZE) {
			c->next = b->chunks->next;
			b->chunks->next = c;
		} else {
			c->next = b->chunks;
			b->chunks = c;
		}
	}
	p = (char *)c->data + c->used;
	c->used += need;
	return p;
}

bool config_node__is_null(const struct config_node *node)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };
	size_t i;

	if (!node || node->kind != CONFIG_SCALAR || node->quoted)
		return false;
	for (i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (!strcmp(node->value, nulls[i]))
			return true;
	return false;
}

const struct config_node *config_node__get(const struct config_node *map,
					   const char *key)
{
	size_t i;

	if (!map || map->kind != CONFIG_MAPPING)
		return NULL;
	for (i = 0; i < map->n_pairs; i++)
		if (!strcmp(map->pairs[i].key->value, key))
			return map->pairs[i].value;
	return NULL;
}

static void problem_at(struct builder *b, const yaml_mark_t *mark, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void problem_at(struct builder *b, const yaml_mark_t *mark, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (!msg) {
		b->problems->out_of_memory = true;
		return;
	}
	config_problems__add(b->problems, mark->line + 1, mark->column + 1, "%s", msg);
	free(msg);
}

/*
 * The reader reports a byte offset only (its mark is not set), so count
 * lines and characters up to it; UTF-8 continuation bytes are no column.
 */
static void offset_to_position(const char *buf, size_t len, size_t offset,
			       yaml_encoding_t encoding, unsigned int *line,
			       unsigned int *column)
{
	const unsigned char *b = (const unsigned char *)buf;
	size_t i = 0;
	unsigned int unit;

	*line = 1;
	*column = 1;
	if (encoding == YAML_UTF16LE_ENCODING || encoding == YAML_UTF16BE_ENCODING) {
		/* Units of two bytes after the byte-order mark; a low
		 * surrogate continues the character before it. */
		if (len >= 2 && ((b[0] == 0xff && b[1] == 0xfe) || (b[0] == 0xfe && b[1] == 0xff)))
			i = 2;
		for (; i + 1 < len && i < offset; i += 2) {
			unit = encoding == YAML_UTF16LE_ENCODING ? b[i] | b[i + 1] << 8 :
								   b[i] << 8 | b[i + 1];
			if (unit == '\n') {
				(*line)++;
				*column = 1;
			} else if (unit < 0xdc00 || unit > 0xdfff) {
				(*column)++;
			}
		}
		return;
	}
	for (; i < offset && i < len; i++) {
		if (b[i] == '\n') {
			(*line)++;
			*column = 1;
		} else if ((b[i] & 0xc0) != 0x80) {
			(*column)++;
		}
	}
}

static void libyaml_problem(struct builder *b, const yaml_parser_t *parser,
			    const char *buf, size_t len)
{
	const yaml_mark_t *pm = &parser->problem_mark;
	const yaml_mark_t *cm = &parser->context_mark;
	const char *problem = parser->problem ? parser->problem : "invalid YAML";
	unsigned int line, column;

	switch (parser->error) {
	case YAML_MEMORY_ERROR:
		b->problems->out_of_memory = true;
		break;
	case YAML_READER_ERROR:
		offset_to_position(buf, len, parser->problem_offset, parser->encoding, &line,
				   &column);
		if (parser->problem_value != -1)
			config_problems__add(b->problems, line, column, "%s (byte 0x%02x)",
					     problem, parser->problem_value);
		else
			config_problems__add(b->problems, line, column, "%s", problem);
		break;
	default:
		/*
		 * Tabs are the commonest cause of "cannot start any token",
		 * and libyaml's words do not say so.
		 */
		if (strstr(problem, "tab"))
			problem_at(b, pm, "%s", problem);
		else if (pm->index < len && buf[pm->index] == '\t')
			problem_at(b, pm, "%s (a tab: YAML indents with spaces only)", problem);
		/* Where an unclosed bracket or quote began is worth knowing. */
		else if (parser->context && (cm->line != pm->line || cm->column != pm->column))
			problem_at(b, pm, "%s (%s at %zu:%zu)", problem, parser->context,
				   cm->line + 1, cm->column + 1);
		else
			problem_at(b, pm, "%s", problem);
		break;
	}
}

static struct config_node *node_new(struct builder *b, enum config_node_kind kind,
				    const yaml_mark_t *mark)
{
	struct config_node *node;

	if (b->n_nodes >= CONFIG_MAX_NODES) {
		problem_at(b, mark, "more than %u nodes", CONFIG_MAX_NODES);
		b->stop = true;
		return NULL;
	}
	node = arena_alloc(b, sizeof(*node));
	if (!node)
		return NULL;
	memset(node, 0, sizeof(*node));
	b->n_nodes++;
	node->kind = kind;
	node->line = mark->line + 1;
	node->column = mark->column + 1;
	return node;
}

/* Room for item `n` (of `size` bytes) in the scratch buffer of depth `d`. */
static void *room(struct builder *b, size_t d, size_t n, size_t size)
{
	size_t want;
	void *p;

	if ((n + 1) * size <= b->scratch_size[d])
		return b->scratch[d];
	want = b->scratch_size[d] ? 2 * b->scratch_size[d] : 16 * size;
	p = realloc(b->scratch[d], want);
	if (!p) {
		b->problems->out_of_memory = true;
		b->stop = true;
		return NULL;
	}
	b->scratch[d] = p;
	b->scratch_size[d] = want;
	return p;
}

/* A collection is whole: its items or pairs move into the arena. */
static void settle(struct builder *b, struct config_node *node)
{
	size_t bytes = node->kind == CONFIG_SEQUENCE ? node->n_items * sizeof(*node->items) :
						       node->n_pairs * sizeof(*node->pairs);
	void *p;

	if (!bytes) {
		node->items = NULL;
		return;
	}
	p = arena_alloc(b, bytes);
	if (!p)
		return;
	memcpy(p, node->kind == CONFIG_SEQUENCE ? (void *)node->items : (void *)node->pairs,
	       bytes);
	node->items = p;	/* the union: pairs too */
}

/* Hang a finished node into the open collection, or make it the root. */
static void attach(struct builder *b, struct config_node *node)
{
	struct config_node *parent;
	size_t top;

	if (!b->depth) {
		b->root = node;
		return;
	}
	top = b->depth - 1;
	parent = b->open[top];
	if (parent->kind == CONFIG_SEQUENCE) {
		if (!(parent->items = room(b, top, parent->n_items, sizeof(*parent->items))))
			return;
		parent->items[parent->n_items++] = node;
		return;
	}
	if (!b->pending_key[top]) {
		b->pending_key[top] = node;
		return;
	}
	if (!(parent->pairs = room(b, top, parent->n_pairs, sizeof(*parent->pairs))))
		return;
	parent->pairs[parent->n_pairs].key = b->pending_key[top];
	parent->pairs[parent->n_pairs].value = node;
	parent->n_pairs++;
	b->pending_key[top] = NULL;
}

struct key_ref {
	const struct config_node *key;
	size_t index;
};

static int compare_keys(const void *a, const void *b)
{
	const struct key_ref *x = a, *y = b;
	size_t n = x->key->length < y->key->length ? x->key->length : y->key->length;
	int c = memcmp(x->key->value, y->key->value, n);

	if (c)
		return c;
	if (x->key->length != y->key->length)
		return x->key->length < y->key->length ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

static bool same_key(const struct config_node *x, const struct config_node *y)
{
	return x->length == y->length && !memcmp(x->value, y->value, x->length);
}

/* Whether a small mapping is fine as it is: scalar keys, none twice. */
#define SMALL_MAPPING 16

static bool small_mapping_clean(const struct config_node *map)
{
	size_t i, j;

	if (map->n_pairs > SMALL_MAPPING)
		return false;
	for (i = 0; i < map->n_pairs; i++) {
		if (map->pairs[i].key->kind != CONFIG_SCALAR)
			return false;
		for (j = 0; j < i; j++)
			if (same_key(map->pairs[i].key, map->pairs[j].key))
				return false;
	}
	return true;
}

/*
 * A finished mapping keeps only pairs with a scalar key, the first of each
 * key.  Sorting finds duplicates in n log n: a hostile file may hold one
 * mapping with tens of thousands of keys.  What is dropped stays in the
 * arena until the tree goes.
 */
static void close_mapping(struct builder *b, struct config_node *map)
{
	struct key_ref *refs = NULL;
	bool *drop = NULL;
	size_t i, n = 0, kept = 0;

	if (!map->n_pairs || small_mapping_clean(map))
		return;
	refs = calloc(map->n_pairs, sizeof(*refs));
	drop = calloc(map->n_pairs, sizeof(*drop));
	if (!refs || !drop) {
		/* Unchecked keys (a NULL value) must not reach model.c. */
		b->problems->out_of_memory = true;
		b->stop = true;
		goto out;
	}
	for (i = 0; i < map->n_pairs; i++) {
		const struct config_node *key = map->pairs[i].key;

		if (key->kind == CONFIG_SCALAR) {
			refs[n].key = key;
			refs[n].index = i;
			n++;
			continue;
		}
		drop[i] = true;
		/* A refused alias is reported already. */
		if (key->kind != CONFIG_REFUSED)
			config_problems__add(b->problems, key->line, key->column,
					     "mapping keys must be scalars");
	}
	if (n)
		qsort(refs, n, sizeof(*refs), compare_keys);
	for (i = 1; i < n; i++) {
		const struct key_ref *first = &refs[i - 1];

		if (!same_key(refs[i].key, first->key))
			continue;
		/* Point every later copy at the first one, not at its neighbour. */
		refs[i].key = first->key;
		config_problems__add(b->problems, map->pairs[refs[i].index].key->line,
				     map->pairs[refs[i].index].key->column,
				     "duplicate key \"%s\" (first at %u:%u)",
				     first->key->value, first->key->line, first->key->column);
		drop[refs[i].index] = true;
	}
	for (i = 0; i < map->n_pairs; i++)
		if (!drop[i])
			map->pairs[kept++] = map->pairs[i];
	map->n_pairs = kept;
out:
	free(refs);
	free(drop);
}

static void refuse_properties(struct builder *b, const yaml_event_t *event,
			      const yaml_char_t *anchor, const yaml_char_t *tag)
{
	if (anchor)
		problem_at(b, &event->start_mark,
			   "anchor \"%s\": anchors and aliases are not supported",
			   (const char *)anchor);
	/* libyaml hands over "!!str" resolved; say it as it was likely written. */
	if (tag && !strncmp((const char *)tag, TAG_PREFIX, strlen(TAG_PREFIX)))
		problem_at(b, &event->start_mark, "tag \"!!%s\": tags are not supported",
			   (const char *)tag + strlen(TAG_PREFIX));
	else if (tag)
		problem_at(b, &event->start_mark, "tag \"%s\": tags are not supported",
			   (const char *)tag);
}

static void on_scalar(struct builder *b, const yaml_event_t *event)
{
	const yaml_char_t *value = event->data.scalar.value;
	size_t length = event->data.scalar.length;
	struct config_node *node;

	refuse_properties(b, event, event->data.scalar.anchor, event->data.scalar.tag);
	node = node_new(b, CONFIG_SCALAR, &event->start_mark);
	if (!node)
		return;
	node->value = arena_alloc(b, length + 1);
	if (!node->value)
		return;
	memcpy(node->value, value, length);
	node->value[length] = '\0';
	node->length = length;
	node->quoted = event->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
	/* Every later stage treats values as C strings. */
	if (memchr(node->value, '\0', length))
		problem_at(b, &event->start_mark, "NUL character in a scalar");
	attach(b, node);
}

static void on_start(struct builder *b, const yaml_event_t *event,
		     enum config_node_kind kind)
{
	struct config_node *node;

	if (kind == CONFIG_MAPPING)
		refuse_properties(b, event, event->data.mapping_start.anchor,
				  event->data.mapping_start.tag);
	else
		refuse_properties(b, event, event->data.sequence_start.anchor,
				  event->data.sequence_start.tag);
	if (b->depth == CONFIG_MAX_DEPTH) {
		problem_at(b, &event->start_mark, "nesting deeper than %d levels",
			   CONFIG_MAX_DEPTH);
		b->stop = true;
		return;
	}
	node = node_new(b, kind, &event->start_mark);
	if (!node)
		return;
	/* Attached at once, so that one free of the root frees everything. */
	attach(b, node);
	if (b->stop)
		return;
	b->open[b->depth] = node;
	b->pending_key[b->depth] = NULL;
	b->depth++;
}

static void on_end(struct builder *b)
{
	struct config_node *node;

	if (!b->depth)
		return;
	node = b->open[--b->depth];
	/* libyaml never ends a mapping between a key and its value. */
	b->pending_key[b->depth] = NULL;
	if (node->kind == CONFIG_MAPPING)
		close_mapping(b, node);
	settle(b, node);
}

static void on_alias(struct builder *b, const yaml_event_t *event)
{
	struct config_node *node;

	problem_at(b, &event->start_mark,
		   "alias \"%s\": anchors and aliases are not supported",
		   (const char *)event->data.alias.anchor);
	node = node_new(b, CONFIG_REFUSED, &event->start_mark);
	if (node)
		attach(b, node);
}

const struct config_node *config_parse(const char *buf, size_t len,
				       struct config_problems *problems,
				       struct config_tree *tree)
{
	struct builder b = { .problems = problems };
	unsigned int documents = 0;
	yaml_parser_t parser;
	yaml_event_t event;
	bool done = false;
	size_t i;

	tree->root = NULL;
	tree->chunks = NULL;

	if (len > CONFIG_MAX_FILE_SIZE) {
		config_problems__add(problems, 0, 0, "larger than %u MiB",
				     CONFIG_MAX_FILE_SIZE >> 20);
		return NULL;
	}
	if (!yaml_parser_initialize(&parser)) {
		problems->out_of_memory = true;
		return NULL;
	}
	/* libyaml asserts on a NULL input, even of length 0. */
	yaml_parser_set_input_string(&parser, (const unsigned char *)(buf ? buf : ""),
				     buf ? len : 0);
	while (!done && !b.stop && !problems->too_many) {
		if (!yaml_parser_parse(&parser, &event)) {
			libyaml_problem(&b, &parser, buf, len);
			b.stop = true;
			break;
		}
		switch (event.type) {
		case YAML_DOCUMENT_START_EVENT:
			/*
			 * The rest is not read: a second document is most
			 * likely a second topology pasted in by mistake.
			 */
			if (++documents > 1) {
				problem_at(&b, &event.start_mark, "more than one document");
				done = true;
			}
			break;
		case YAML_SCALAR_EVENT:
			on_scalar(&b, &event);
			break;
		case YAML_SEQUENCE_START_EVENT:
			on_start(&b, &event, CONFIG_SEQUENCE);
			break;
		case YAML_MAPPING_START_EVENT:
			on_start(&b, &event, CONFIG_MAPPING);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			on_end(&b);
			break;
		case YAML_ALIAS_EVENT:
			on_alias(&b, &event);
			break;
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		default:
			break;
		}
		yaml_event_delete(&event);
	}
	yaml_parser_delete(&parser);
	for (i = 0; i < CONFIG_MAX_DEPTH; i++)
		free(b.scratch[i]);
	if (problems->too_many)
		b.stop = true;
	/* The arena is the tree's even when there is no root to check. */
	tree->chunks = b.chunks;
	if (b.stop)
		return NULL;
	if (!documents || !b.root || config_node__is_null(b.root)) {
		config_problems__add(problems, 1, 1, "empty file");
		return NULL;
	}
	tree->root = b.root;
	return tree->root;
}
