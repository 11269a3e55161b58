// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * pktsend: traffic for the integration tests, run inside a namespace with
 * `ip netns exec`.
 *
 *   pktsend udp --dst ADDR --dport PORT --flows F --per-flow K [--sport-base P]
 *	F UDP flows (source ports P, P+1, ...; P defaults to 20000), K
 *	datagrams each, through one connected UDP socket per flow bound to
 *	its source port.  ADDR is IPv4 or IPv6.
 *
 *   pktsend raw --dev DEV [--src-mac M] --dst-mac M --vlan VID --count N
 *		 [--src ADDR] --dst ADDR --dport PORT [--sport P]
 *	N Ethernet frames with one 802.1Q tag (VID) carrying IPv4/UDP, sent
 *	through an AF_PACKET SOCK_RAW socket on DEV.  --src-mac defaults to
 *	DEV's address, --src to DEV's first IPv4 address, --sport to 20000.
 *
 * A connected UDP socket learns of an ICMP port unreachable on its next
 * send, which then fails with ECONNREFUSED without sending: that send is
 * retried (the error is consumed by the failure), so that exactly K
 * datagrams per flow leave.  Exit 0 when everything was sent, 1 on an
 * error (said on stderr), 2 on bad usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#define RETRIES 100	/* ECONNREFUSED in a row before a send gives up */

static const char *prog = "pktsend";

static void usage(void)
{
	fprintf(stderr,
		"usage: %s udp --dst ADDR --dport PORT --flows F --per-flow K [--sport-base P]\n"
		"       %s raw --dev DEV [--src-mac M] --dst-mac M --vlan VID --count N\n"
		"              [--src ADDR] --dst ADDR --dport PORT [--sport P]\n",
		prog, prog);
}

/* An integer in [min, max] from `s`, for option `opt`. */
static bool parse_uint(const char *opt, const char *s, unsigned long min, unsigned long max,
		       unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < min || v > max) {
		fprintf(stderr, "%s: %s: '%s' is not an integer in %lu..%lu\n",
			prog, opt, s, min, max);
		return false;
	}
	*out = v;
	return true;
}

static bool parse_mac(const char *opt, const char *s, uint8_t mac[ETH_ALEN])
{
	unsigned int b[ETH_ALEN];
	char extra;
	int i;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &extra) != ETH_ALEN) {
		fprintf(stderr, "%s: %s: '%s' is not a MAC address\n", prog, opt, s);
		return false;
	}
	for (i = 0; i < ETH_ALEN; i++)
		mac[i] = b[i];
	return true;
}

/* ---- udp ------------------------------------------------------------------ */

/* Send one datagram on connected `fd`, retrying a send refused by a past ICMP error. */
static int send_one(int fd, const void *buf, size_t len)
{
	int tries;

	for (tries = 0; tries < RETRIES; tries++) {
		ssize_t n = send(fd, buf, len, 0);

		if (n == (ssize_t)len)
			return 0;
		if (n >= 0) {
			errno = EMSGSIZE;
			return -1;
		}
		if (errno != ECONNREFUSED && errno != EINTR)
			return -1;
	}
	errno = ECONNREFUSED;
	return -1;
}

static int cmd_udp(int argc, char **argv)
{
	const char *dst = NULL;
	unsigned long dport = 0, flows = 0, per_flow = 0, sport_base = 20000, f, k;
	struct sockaddr_storage local = {}, remote = {};
	socklen_t alen;
	int i, family;

	for (i = 0; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool ok = true;

		if (!v) {
			fprintf(stderr, "%s: %s needs a value\n", prog, o);
			return 2;
		}
		if (!strcmp(o, "--dst"))
			dst = v;
		else if (!strcmp(o, "--dport"))
			ok = parse_uint(o, v, 1, 65535, &dport);
		else if (!strcmp(o, "--flows"))
			ok = parse_uint(o, v, 1, 65535, &flows);
		else if (!strcmp(o, "--per-flow"))
			ok = parse_uint(o, v, 1, 1000000, &per_flow);
		else if (!strcmp(o, "--sport-base"))
			ok = parse_uint(o, v, 1, 65535, &sport_base);
		else {
			fprintf(stderr, "%s: udp: unknown option '%s'\n", prog, o);
			usage();
			return 2;
		}
		if (!ok)
			return 2;
		i++;
	}
	if (!dst || !dport || !flows || !per_flow) {
		fprintf(stderr, "%s: udp needs --dst, --dport, --flows and --per-flow\n", prog);
		usage();
		return 2;
	}
	if (sport_base + flows - 1 > 65535) {
		fprintf(stderr, "%s: --sport-base %lu + --flows %lu goes past port 65535\n",
			prog, sport_base, flows);
		return 2;
	}

	if (inet_pton(AF_INET, dst, &((struct sockaddr_in *)&remote)->sin_addr) == 1) {
		struct sockaddr_in *r = (struct sockaddr_in *)&remote;

		family = AF_INET;
		r->sin_family = AF_INET;
		r->sin_port = htons(dport);
		((struct sockaddr_in *)&local)->sin_family = AF_INET;
		alen = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, dst, &((struct sockaddr_in6 *)&remote)->sin6_addr) == 1) {
		struct sockaddr_in6 *r = (struct sockaddr_in6 *)&remote;

		family = AF_INET6;
		r->sin6_family = AF_INET6;
		r->sin6_port = htons(dport);
		((struct sockaddr_in6 *)&local)->sin6_family = AF_INET6;
		alen = sizeof(struct sockaddr_in6);
	} else {
		fprintf(stderr, "%s: --dst: '%s' is not an IPv4 or IPv6 address\n", prog, dst);
		return 2;
	}

	for (f = 0; f < flows; f++) {
		unsigned long sport = sport_base + f;
		char payload[32];
		int fd, one = 1;
		size_t len;

		if (family == AF_INET)
			((struct sockaddr_in *)&local)->sin_port = htons(sport);
		else
			((struct sockaddr_in6 *)&local)->sin6_port = htons(sport);

		fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			fprintf(stderr, "%s: socket: %s\n", prog, strerror(errno));
			return 1;
		}
		/* A port of a flow just closed may linger nowhere for UDP, but be safe. */
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
		    bind(fd, (struct sockaddr *)&local, alen) < 0) {
			fprintf(stderr, "%s: bind to source port %lu: %s\n", prog, sport,
				strerror(errno));
			close(fd);
			return 1;
		}
		if (connect(fd, (struct sockaddr *)&remote, alen) < 0) {
			fprintf(stderr, "%s: connect to %s port %lu: %s\n", prog, dst, dport,
				strerror(errno));
			close(fd);
			return 1;
		}
		for (k = 0; k < per_flow; k++) {
			len = (size_t)snprintf(payload, sizeof(payload), "flow %lu pkt %lu", f, k);
			if (send_one(fd, payload, len) < 0) {
				fprintf(stderr, "%s: send (source port %lu, datagram %lu): %s\n",
					prog, sport, k, strerror(errno));
				close(fd);
				return 1;
			}
		}
		if (close(fd) < 0) {
			fprintf(stderr, "%s: close: %s\n", prog, strerror(errno));
			return 1;
		}
	}
	return 0;
}

/* ---- raw ------------------------------------------------------------------ */

/* The Internet checksum of `len` bytes, folded, starting from `sum`. */
static uint16_t csum(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;

	while (len > 1) {
		sum += (uint32_t)p[0] << 8 | p[1];
		p += 2;
		len -= 2;
	}
	if (len)
		sum += (uint32_t)p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

/* DEV's first IPv4 address, or false. */
static bool dev_ipv4(const char *dev, struct in_addr *out)
{
	struct ifaddrs *ifa, *i;
	bool found = false;

	if (getifaddrs(&ifa) < 0)
		return false;
	for (i = ifa; i; i = i->ifa_next) {
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && !strcmp(i->ifa_name, dev)) {
			*out = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
			found = true;
			break;
		}
	}
	freeifaddrs(ifa);
	return found;
}

#define FRAME_HDR (ETH_HLEN + 4 + 20 + 8)	/* Ethernet, 802.1Q, IPv4, UDP */

static int cmd_raw(int argc, char **argv)
{
	const char *dev = NULL, *src = NULL, *dst = NULL;
	uint8_t src_mac[ETH_ALEN], dst_mac[ETH_ALEN], frame[FRAME_HDR + 32], *ip, *udp;
	bool have_src_mac = false, have_dst_mac = false;
	unsigned long vid = 4096, count = 0, dport = 0, sport = 20000, n;
	struct in_addr saddr, daddr;
	struct sockaddr_ll sll = {};
	struct ifreq ifr = {};
	static const char payload[] = "pktsend vlan";
	size_t plen = sizeof(payload) - 1, flen = FRAME_HDR + plen;
	uint32_t sum;
	int i, fd, ifindex, ret = 1;

	for (i = 0; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool ok = true;

		if (!v) {
			fprintf(stderr, "%s: %s needs a value\n", prog, o);
			return 2;
		}
		if (!strcmp(o, "--dev"))
			dev = v;
		else if (!strcmp(o, "--src-mac"))
			ok = have_src_mac = parse_mac(o, v, src_mac);
		else if (!strcmp(o, "--dst-mac"))
			ok = have_dst_mac = parse_mac(o, v, dst_mac);
		else if (!strcmp(o, "--vlan"))
			ok = parse_uint(o, v, 0, 4095, &vid);
		else if (!strcmp(o, "--count"))
			ok = parse_uint(o, v, 1, 100000000, &count);
		else if (!strcmp(o, "--src"))
			src = v;
		else if (!strcmp(o, "--dst"))
			dst = v;
		else if (!strcmp(o, "--dport"))
			ok = parse_uint(o, v, 1, 65535, &dport);
		else if (!strcmp(o, "--sport"))
			ok = parse_uint(o, v, 1, 65535, &sport);
		else {
			fprintf(stderr, "%s: raw: unknown option '%s'\n", prog, o);
			usage();
			return 2;
		}
		if (!ok)
			return 2;
		i++;
	}
	if (!dev || !have_dst_mac || vid > 4095 || !count || !dst || !dport) {
		fprintf(stderr, "%s: raw needs --dev, --dst-mac, --vlan, --count, --dst and --dport\n",
			prog);
		usage();
		return 2;
	}
	if (strlen(dev) >= IFNAMSIZ) {
		fprintf(stderr, "%s: --dev: '%s' is too long for a device name\n", prog, dev);
		return 2;
	}
	if (inet_pton(AF_INET, dst, &daddr) != 1) {
		fprintf(stderr, "%s: --dst: '%s' is not an IPv4 address\n", prog, dst);
		return 2;
	}
	if (src && inet_pton(AF_INET, src, &saddr) != 1) {
		fprintf(stderr, "%s: --src: '%s' is not an IPv4 address\n", prog, src);
		return 2;
	}
	if (!src && !dev_ipv4(dev, &saddr)) {
		fprintf(stderr, "%s: %s has no IPv4 address: give --src\n", prog, dev);
		return 2;
	}

	ifindex = if_nametoindex(dev);
	if (!ifindex) {
		fprintf(stderr, "%s: no device '%s' here: %s\n", prog, dev, strerror(errno));
		return 1;
	}
	/* Protocol 0: this socket only sends, it receives nothing. */
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "%s: AF_PACKET socket: %s\n", prog, strerror(errno));
		return 1;
	}
	if (!have_src_mac) {
		strcpy(ifr.ifr_name, dev);
		if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
			fprintf(stderr, "%s: the address of %s: %s\n", prog, dev, strerror(errno));
			goto out;
		}
		memcpy(src_mac, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	}

	/* Ethernet, one 802.1Q tag (PCP 0, DEI 0), IPv4, UDP, payload. */
	memset(frame, 0, sizeof(frame));
	memcpy(frame, dst_mac, ETH_ALEN);
	memcpy(frame + ETH_ALEN, src_mac, ETH_ALEN);
	put16(frame + 12, ETH_P_8021Q);
	put16(frame + 14, (uint16_t)vid);
	put16(frame + 16, ETH_P_IP);
	ip = frame + ETH_HLEN + 4;
	ip[0] = 0x45;			/* version 4, 20-byte header */
	put16(ip + 2, (uint16_t)(20 + 8 + plen));
	put16(ip + 6, 0x4000);		/* DF */
	ip[8] = 64;			/* TTL */
	ip[9] = IPPROTO_UDP;
	memcpy(ip + 12, &saddr, 4);
	memcpy(ip + 16, &daddr, 4);
	put16(ip + 10, csum(ip, 20, 0));
	udp = ip + 20;
	put16(udp, (uint16_t)sport);
	put16(udp + 2, (uint16_t)dport);
	put16(udp + 4, (uint16_t)(8 + plen));
	memcpy(udp + 8, payload, plen);
	/* Pseudo-header: addresses, protocol, UDP length. */
	sum = 0;
	for (i = 12; i < 20; i += 2)
		sum += (uint32_t)ip[i] << 8 | ip[i + 1];
	sum += IPPROTO_UDP + 8 + plen;
	{
		uint16_t c = csum(udp, 8 + plen, sum);

		put16(udp + 6, c ? c : 0xffff);
	}

	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = ifindex;
	sll.sll_halen = ETH_ALEN;
	memcpy(sll.sll_addr, dst_mac, ETH_ALEN);
	for (n = 0; n < count; n++) {
		ssize_t sent;
		int tries = 0;

		/* A full device queue (ENOBUFS) drains: wait a little and resend. */
		while ((sent = sendto(fd, frame, flen, 0, (struct sockaddr *)&sll,
				      sizeof(sll))) < 0 &&
		       (errno == EINTR || errno == ENOBUFS) && ++tries < RETRIES)
			usleep(1000);
		if (sent != (ssize_t)flen) {
			fprintf(stderr, "%s: send on %s (frame %lu of %lu): %s\n", prog, dev, n + 1,
				count, sent < 0 ? strerror(errno) : "short send");
			goto out;
		}
	}
	ret = 0;
out:
	if (close(fd) < 0 && !ret) {
		fprintf(stderr, "%s: close: %s\n", prog, strerror(errno));
		ret = 1;
	}
	return ret;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage();
		return 2;
	}
	if (!strcmp(argv[1], "udp"))
		return cmd_udp(argc - 2, argv + 2);
	if (!strcmp(argv[1], "raw"))
		return cmd_raw(argc - 2, argv + 2);
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage();
		return 0;
	}
	fprintf(stderr, "%s: unknown command '%s'\n", prog, argv[1]);
	usage();
	return 2;
}
