/*
 * A chat over one direct connection, in the spirit of the GraphChat sample, written against
 * p2p.h alone:
 *
 *   graphchat listen PEER_ID SECRET
 *       joins graph "chat" as PEER_ID, listens on ::1 and prints "listening PORT"; prints each
 *       line it receives as "PEER: LINE", answers it with "ack LINE", and exits once the peer
 *       has disconnected.
 *   graphchat send PEER_ID TARGET_ID PORT SECRET LINE...
 *       joins graph "chat" as PEER_ID, connects to TARGET_ID at [::1]:PORT, sends each LINE,
 *       prints each answer, then closes the connection and exits.
 *   graphchat nodes PEER_ID PORT SECRET
 *       joins graph "chat" as PEER_ID through a neighbor connection to whichever member is at
 *       [::1]:PORT, waits for the first node it learns of (PEER_GRAPH_EVENT_NODE_CHANGED), then
 *       prints every other node of the graph as "node PEER port PORT" (PeerGraphEnumNodes, then
 *       PeerGraphGetNodeInfo for each) and exits.
 *   graphchat records PEER_ID PORT SECRET TEXT COUNT
 *       joins graph "chat" as PEER_ID through a neighbor connection to [::1]:PORT, once connected
 *       adds a record with attribute "text=TEXT" and data TEXT, waits for COUNT
 *       PEER_RECORD_ADDED events (its own included), prints every record as "record CREATOR DATA" (PeerGraphEnumRecords) and
 *       "found N" for the records whose text is TEXT (PeerGraphSearchRecords), and exits.
 *
 * Every p2p.h call is checked; a failure prints the function and its HRESULT and exits 1.
 */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "p2p.h"

/* The message type of a chat line. */
static const GUID CHAT_LINE = {0x6c61c7e1, 0x3a0f, 0x4d1c, {0x9e, 0x3b, 0x51, 0x2a, 0x7d, 0x44, 0x0c, 0x21}};

#define CHECK(call)                                                                  \
    do {                                                                             \
        HRESULT hr_ = (call);                                                        \
        if (hr_ < 0) {                                                               \
            fprintf(stderr, "%s failed: 0x%08x\n", #call, (unsigned)hr_);            \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

/* A UTF-16 copy of an ASCII string; free it with free(). */
static WCHAR *wide(const char *text) {
    size_t len = strlen(text);
    WCHAR *out = calloc(len + 1, sizeof(WCHAR));
    for (size_t i = 0; i < len; i++) out[i] = (WCHAR)(unsigned char)text[i];
    return out;
}

/* An ASCII copy of a UTF-16 string into buf. */
static void narrow(const WCHAR *text, char *buf, size_t size) {
    size_t i = 0;
    for (; text[i] != 0 && i + 1 < size; i++) buf[i] = (char)text[i];
    buf[i] = 0;
}

static HGRAPH join(const char *peer_id, const char *secret) {
    WCHAR *graph_id = wide("chat"), *peer = wide(peer_id);
    PEER_GRAPH_PROPERTIES properties;
    memset(&properties, 0, sizeof properties);
    properties.dwSize = sizeof properties;
    properties.pwzGraphId = graph_id;
    properties.pwzCreatorId = peer;
    PEER_SECURITY_INTERFACE security;
    memset(&security, 0, sizeof security);
    security.dwSize = sizeof security;
    security.cbSecurityInfo = (ULONG)strlen(secret);
    security.pbSecurityInfo = (uint8_t *)secret;
    HGRAPH graph = NULL;
    CHECK(PeerGraphCreate(&properties, NULL, &security, &graph));
    free(graph_id);
    free(peer);
    return graph;
}

static HPEEREVENT subscribe(HGRAPH graph, int fd) {
    PEER_GRAPH_EVENT_REGISTRATION kinds[2] = {
        {PEER_GRAPH_EVENT_DIRECT_CONNECTION, NULL},
        {PEER_GRAPH_EVENT_INCOMING_DATA, NULL},
    };
    HPEEREVENT events = NULL;
    CHECK(PeerGraphRegisterEvent(graph, (HANDLE)(intptr_t)fd, 2, kinds, &events));
    return events;
}

/* Waits until the event descriptor is readable and resets it. */
static void wait_for_events(int fd) {
    struct pollfd ready = {.fd = fd, .events = POLLIN};
    if (poll(&ready, 1, 20000) != 1) {
        fprintf(stderr, "no event within 20 s\n");
        exit(1);
    }
    uint64_t count;
    if (read(fd, &count, sizeof count) != sizeof count) exit(1);
}

/* The remote peer id of a connection, from PeerGraphEnumConnections. */
static void peer_of(HGRAPH graph, ULONGLONG connection, char *buf, size_t size) {
    HPEERENUM list = NULL;
    CHECK(PeerGraphEnumConnections(graph, PEER_CONNECTION_DIRECT, &list));
    ULONG total = 0;
    CHECK(PeerGraphGetItemCount(list, &total));
    snprintf(buf, size, "?");
    for (;;) {
        ULONG count = 4;
        void **items = NULL;
        CHECK(PeerGraphGetNextItem(list, &count, &items));
        if (count == 0) break;
        for (ULONG i = 0; i < count; i++) {
            PEER_CONNECTION_INFO *info = items[i];
            if (info->ullConnectionId == connection) narrow(info->pwzPeerId, buf, size);
        }
        PeerGraphFreeData(items);
    }
    CHECK(PeerGraphEndEnumeration(list));
}

/* [::1]:PORT. */
static PEER_ADDRESS loopback(const char *port) {
    PEER_ADDRESS address;
    memset(&address, 0, sizeof address);
    address.dwSize = sizeof address;
    address.sin6.sin6_family = AF_INET6;
    address.sin6.sin6_port = htons((uint16_t)atoi(port));
    inet_pton(AF_INET6, "::1", address.sin6.sin6_addr);
    return address;
}

static void send_line(HGRAPH graph, ULONGLONG connection, const char *line) {
    CHECK(PeerGraphSendData(graph, connection, &CHAT_LINE, (ULONG)strlen(line), (void *)line));
}

static int listen_main(const char *peer_id, const char *secret) {
    PEER_VERSION_DATA version;
    CHECK(PeerGraphStartup(PEER_GRAPH_VERSION, &version));
    HGRAPH graph = join(peer_id, secret);
    int fd = eventfd(0, EFD_CLOEXEC);
    HPEEREVENT events = subscribe(graph, fd);
    CHECK(PeerGraphListen(graph, PEER_GRAPH_SCOPE_LOOPBACK, 0, 0));
    PEER_NODE_INFO *node = NULL;
    CHECK(PeerGraphGetNodeInfo(graph, 0, &node));
    if (node->cAddresses != 1) return 1;
    printf("listening %u\n", ntohs(node->pAddresses[0].sin6.sin6_port));
    fflush(stdout);
    PeerGraphFreeData(node);

    int done = 0;
    while (!done) {
        wait_for_events(fd);
        PEER_GRAPH_EVENT_DATA *event = NULL;
        while (PeerGraphGetEventData(events, &event) == S_OK) {
            if (event->eventType == PEER_GRAPH_EVENT_DIRECT_CONNECTION) {
                PEER_EVENT_CONNECTION_CHANGE_DATA *change = &event->u.connectionChangeData;
                if (change->status == PEER_CONNECTED) {
                    char peer[64];
                    peer_of(graph, change->ullConnectionId, peer, sizeof peer);
                    printf("connected %s\n", peer);
                } else if (change->status == PEER_DISCONNECTED) {
                    printf("disconnected\n");
                    done = 1;
                }
            } else if (event->eventType == PEER_GRAPH_EVENT_INCOMING_DATA) {
                PEER_EVENT_INCOMING_DATA *data = &event->u.incomingData;
                char line[256], peer[64], answer[300];
                if (memcmp(&data->type, &CHAT_LINE, sizeof(GUID)) != 0) return 1;
                snprintf(line, sizeof line, "%.*s", (int)data->data.cbData, (char *)data->data.pbData);
                peer_of(graph, data->ullConnectionId, peer, sizeof peer);
                printf("%s: %s\n", peer, line);
                snprintf(answer, sizeof answer, "ack %s", line);
                send_line(graph, data->ullConnectionId, answer);
            }
            fflush(stdout);
            PeerGraphFreeData(event);
        }
    }
    CHECK(PeerGraphUnregisterEvent(events));
    close(fd);
    CHECK(PeerGraphClose(graph));
    CHECK(PeerGraphShutdown());
    return 0;
}

static int send_main(const char *peer_id, const char *target, const char *port, const char *secret,
                     int count, char **lines) {
    PEER_VERSION_DATA version;
    CHECK(PeerGraphStartup(PEER_GRAPH_VERSION, &version));
    HGRAPH graph = join(peer_id, secret);
    int fd = eventfd(0, EFD_CLOEXEC);
    HPEEREVENT events = subscribe(graph, fd);

    PEER_ADDRESS address = loopback(port);
    WCHAR *target_id = wide(target);
    ULONGLONG connection = 0;
    CHECK(PeerGraphOpenDirectConnection(graph, target_id, &address, &connection));
    free(target_id);

    int answers = 0, connected = 0;
    while (answers < count) {
        wait_for_events(fd);
        PEER_GRAPH_EVENT_DATA *event = NULL;
        while (PeerGraphGetEventData(events, &event) == S_OK) {
            if (event->eventType == PEER_GRAPH_EVENT_DIRECT_CONNECTION) {
                PEER_EVENT_CONNECTION_CHANGE_DATA *change = &event->u.connectionChangeData;
                if (change->ullConnectionId != connection) return 1;
                if (change->status == PEER_CONNECTION_FAILED) {
                    printf("failed 0x%08x\n", (unsigned)change->hrConnectionFailedReason);
                    return 2;
                }
                if (change->status == PEER_CONNECTED && !connected) {
                    connected = 1;
                    printf("connected %s\n", target);
                    for (int i = 0; i < count; i++) send_line(graph, connection, lines[i]);
                }
            } else if (event->eventType == PEER_GRAPH_EVENT_INCOMING_DATA) {
                PEER_EVENT_INCOMING_DATA *data = &event->u.incomingData;
                printf("%s: %.*s\n", target, (int)data->data.cbData, (char *)data->data.pbData);
                answers++;
            }
            fflush(stdout);
            PeerGraphFreeData(event);
        }
    }
    CHECK(PeerGraphCloseDirectConnection(graph, connection));
    CHECK(PeerGraphUnregisterEvent(events));
    close(fd);
    CHECK(PeerGraphClose(graph));
    CHECK(PeerGraphShutdown());
    return 0;
}

static int nodes_main(const char *peer_id, const char *port, const char *secret) {
    PEER_VERSION_DATA version;
    CHECK(PeerGraphStartup(PEER_GRAPH_VERSION, &version));
    HGRAPH graph = join(peer_id, secret);
    int fd = eventfd(0, EFD_CLOEXEC);
    PEER_GRAPH_EVENT_REGISTRATION kinds[2] = {
        {PEER_GRAPH_EVENT_NEIGHBOR_CONNECTION, NULL},
        {PEER_GRAPH_EVENT_NODE_CHANGED, NULL},
    };
    HPEEREVENT events = NULL;
    CHECK(PeerGraphRegisterEvent(graph, (HANDLE)(intptr_t)fd, 2, kinds, &events));

    PEER_ADDRESS address = loopback(port);
    ULONGLONG neighbor = 0;
    CHECK(PeerGraphConnect(graph, NULL, &address, &neighbor));

    int known = 0;
    while (!known) {
        wait_for_events(fd);
        PEER_GRAPH_EVENT_DATA *event = NULL;
        while (PeerGraphGetEventData(events, &event) == S_OK) {
            if (event->eventType == PEER_GRAPH_EVENT_NEIGHBOR_CONNECTION &&
                event->u.connectionChangeData.status == PEER_CONNECTION_FAILED) {
                printf("failed 0x%08x\n", (unsigned)event->u.connectionChangeData.hrConnectionFailedReason);
                return 2;
            }
            if (event->eventType == PEER_GRAPH_EVENT_NODE_CHANGED &&
                event->u.nodeChangeData.changeType == PEER_NODE_CHANGE_CONNECTED)
                known = 1;
            PeerGraphFreeData(event);
        }
    }

    PEER_NODE_INFO *self = NULL;
    CHECK(PeerGraphGetNodeInfo(graph, 0, &self));
    HPEERENUM list = NULL;
    CHECK(PeerGraphEnumNodes(graph, NULL, &list));
    for (;;) {
        ULONG count = 4;
        void **items = NULL;
        CHECK(PeerGraphGetNextItem(list, &count, &items));
        if (count == 0) break;
        for (ULONG i = 0; i < count; i++) {
            PEER_NODE_INFO *listed = items[i];
            if (listed->ullNodeId == self->ullNodeId) continue;
            PEER_NODE_INFO *node = NULL;
            CHECK(PeerGraphGetNodeInfo(graph, listed->ullNodeId, &node));
            char name[64];
            narrow(node->pwzPeerId, name, sizeof name);
            if (node->cAddresses < 1) return 1;
            printf("node %s port %u\n", name, ntohs(node->pAddresses[0].sin6.sin6_port));
            PeerGraphFreeData(node);
        }
        PeerGraphFreeData(items);
    }
    CHECK(PeerGraphEndEnumeration(list));
    PeerGraphFreeData(self);
    fflush(stdout);
    CHECK(PeerGraphUnregisterEvent(events));
    close(fd);
    CHECK(PeerGraphClose(graph));
    CHECK(PeerGraphShutdown());
    return 0;
}

/* The record type of a chat note. */
static const GUID CHAT_NOTE = {0x6e6f7465, 0x3a0f, 0x4d1c, {0x9e, 0x3b, 0x51, 0x2a, 0x7d, 0x44, 0x0c, 0x22}};

static int records_main(const char *peer_id, const char *port, const char *secret, const char *text,
                        int count) {
    PEER_VERSION_DATA version;
    CHECK(PeerGraphStartup(PEER_GRAPH_VERSION, &version));
    HGRAPH graph = join(peer_id, secret);
    int fd = eventfd(0, EFD_CLOEXEC);
    PEER_GRAPH_EVENT_REGISTRATION kinds[2] = {{PEER_GRAPH_EVENT_RECORD_CHANGED, (GUID *)&CHAT_NOTE},
                                              {PEER_GRAPH_EVENT_NEIGHBOR_CONNECTION, NULL}};
    HPEEREVENT events = NULL;
    CHECK(PeerGraphRegisterEvent(graph, (HANDLE)(intptr_t)fd, 2, kinds, &events));
    PEER_ADDRESS address = loopback(port);
    ULONGLONG neighbor = 0;
    CHECK(PeerGraphConnect(graph, NULL, &address, &neighbor));

    char line[256];
    int added = 0;
    while (added < count) {
        wait_for_events(fd);
        PEER_GRAPH_EVENT_DATA *event = NULL;
        while (PeerGraphGetEventData(events, &event) == S_OK) {
            int type = event->eventType, status = event->u.connectionChangeData.status;
            added += type == PEER_GRAPH_EVENT_RECORD_CHANGED &&
                     event->u.recordChangeData.changeType == PEER_RECORD_ADDED;
            PeerGraphFreeData(event);
            if (type == PEER_GRAPH_EVENT_NEIGHBOR_CONNECTION && status == PEER_CONNECTION_FAILED) return 2;
            if (type != PEER_GRAPH_EVENT_NEIGHBOR_CONNECTION || status != PEER_CONNECTED) continue;
            /* Connected: the record floods to the neighbor as it is added. */
            snprintf(line, sizeof line, "text=%s", text);
            WCHAR *attributes = wide(line);
            uint64_t expires = ((uint64_t)time(NULL) + 3600) * 10000000ULL + 116444736000000000ULL;
            PEER_RECORD record;
            memset(&record, 0, sizeof record);
            record.dwSize = sizeof record;
            record.type = CHAT_NOTE;
            record.pwzAttributes = attributes;
            record.ftExpiration.dwLowDateTime = (DWORD)expires;
            record.ftExpiration.dwHighDateTime = (DWORD)(expires >> 32);
            record.data.cbData = (ULONG)strlen(text);
            record.data.pbData = (uint8_t *)text;
            GUID id;
            CHECK(PeerGraphAddRecord(graph, &record, &id));
            free(attributes);
        }
    }
    snprintf(line, sizeof line, "attr text = %s", text);
    WCHAR *criteria = wide(line);
    for (int search = 0; search < 2; search++) {
        HPEERENUM list = NULL;
        if (search) CHECK(PeerGraphSearchRecords(graph, criteria, &list));
        else CHECK(PeerGraphEnumRecords(graph, &CHAT_NOTE, NULL, &list));
        ULONG found = 0;
        CHECK(PeerGraphGetItemCount(list, &found));
        for (ULONG got = 1; got > 0;) {
            void **items = NULL;
            CHECK(PeerGraphGetNextItem(list, &got, &items));
            for (ULONG i = 0; i < got && !search; i++) {
                PEER_RECORD *listed = items[i];
                char creator[64];
                narrow(listed->pwzCreatorId, creator, sizeof creator);
                printf("record %s %.*s\n", creator, (int)listed->data.cbData, (char *)listed->data.pbData);
            }
            PeerGraphFreeData(items);
        }
        if (search) printf("found %u\n", (unsigned)found);
        CHECK(PeerGraphEndEnumeration(list));
    }
    free(criteria);
    fflush(stdout);
    CHECK(PeerGraphUnregisterEvent(events));
    close(fd);
    CHECK(PeerGraphClose(graph));
    CHECK(PeerGraphShutdown());
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "listen") == 0) return listen_main(argv[2], argv[3]);
    if (argc >= 7 && strcmp(argv[1], "send") == 0)
        return send_main(argv[2], argv[3], argv[4], argv[5], argc - 6, argv + 6);
    if (argc == 5 && strcmp(argv[1], "nodes") == 0) return nodes_main(argv[2], argv[3], argv[4]);
    if (argc == 7 && strcmp(argv[1], "records") == 0)
        return records_main(argv[2], argv[3], argv[4], argv[5], atoi(argv[6]));
    fprintf(stderr, "usage: graphchat listen PEER_ID SECRET | send PEER_ID TARGET_ID PORT SECRET LINE... "
                    "| nodes PEER_ID PORT SECRET | records PEER_ID PORT SECRET TEXT COUNT\n");
    return 2;
}
