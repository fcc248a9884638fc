/*
 * Bad input from C: each call gets its documented HRESULT and nothing crashes. Prints one line
 * per check ("ok ..." or "FAIL ..."), then "checks N failed M", and exits with M.
 */

#define _GNU_SOURCE
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "p2p.h"

_Static_assert(sizeof(PEER_ADDRESS) == 32, "PEER_ADDRESS is 32 bytes, as on Windows");
_Static_assert(sizeof(GUID) == 16, "GUID is 16 bytes");
_Static_assert(sizeof(PEER_VERSION_DATA) == 4, "PEER_VERSION_DATA is two WORDs");

static int checks, failed;

#define EXPECT(call, want)                                                                   \
    do {                                                                                     \
        HRESULT got_ = (call);                                                               \
        checks++;                                                                            \
        if (got_ == (HRESULT)(want)) {                                                       \
            printf("ok %s\n", #call);                                                        \
        } else {                                                                             \
            failed++;                                                                        \
            printf("FAIL %s: 0x%08x, want 0x%08x\n", #call, (unsigned)got_, (unsigned)(want)); \
        }                                                                                    \
    } while (0)

int main(void) {
    static const WCHAR chat[] = {'c', 'h', 'a', 't', 0};
    static const WCHAR bob[] = {'b', 'o', 'b', 0};
    static const WCHAR alice[] = {'a', 'l', 'i', 'c', 'e', 0};
    PEER_VERSION_DATA version;
    HGRAPH graph = NULL, stale = NULL;
    HPEEREVENT events = NULL;
    HPEERENUM list = NULL;
    ULONGLONG connection = 0;

    EXPECT(PeerGraphShutdown(), PEER_E_NOT_INITIALIZED);
    EXPECT(PeerGraphStartup(PEER_GRAPH_VERSION, NULL), E_INVALIDARG);
    EXPECT(PeerGraphStartup(0x0201, &version), PEER_E_UNSUPPORTED_VERSION);
    EXPECT(PeerGraphStartup(PEER_GRAPH_VERSION, &version), S_OK);

    PEER_GRAPH_PROPERTIES properties;
    memset(&properties, 0, sizeof properties);
    properties.pwzGraphId = (PWSTR)chat;
    properties.pwzCreatorId = (PWSTR)bob;
    EXPECT(PeerGraphCreate(&properties, NULL, NULL, &graph), E_INVALIDARG); /* dwSize 0 */
    properties.dwSize = sizeof properties;
    EXPECT(PeerGraphCreate(NULL, NULL, NULL, &graph), E_INVALIDARG);
    EXPECT(PeerGraphCreate(&properties, NULL, NULL, NULL), E_INVALIDARG);
    EXPECT(PeerGraphOpen(chat, NULL, NULL, NULL, 0, NULL, &graph), E_INVALIDARG);
    EXPECT(PeerGraphOpen(chat, bob, NULL, NULL, 1, NULL, &graph), E_INVALIDARG);
    EXPECT(PeerGraphCreate(&properties, NULL, NULL, &stale), S_OK);
    EXPECT(PeerGraphClose(stale), S_OK);
    EXPECT(PeerGraphClose(stale), PEER_E_INVALID_GRAPH);
    EXPECT(PeerGraphOpen(chat, bob, NULL, NULL, 0, NULL, &graph), PEER_S_GRAPH_DATA_CREATED);
    EXPECT(PeerGraphListen(stale, PEER_GRAPH_SCOPE_LOOPBACK, 0, 0), PEER_E_INVALID_GRAPH);
    EXPECT(PeerGraphListen(graph, 7, 0, 0), E_INVALIDARG);

    int fd = eventfd(0, EFD_CLOEXEC);
    PEER_GRAPH_EVENT_REGISTRATION kinds[2] = {
        {PEER_GRAPH_EVENT_DIRECT_CONNECTION, NULL},
        {99, NULL},
    };
    EXPECT(PeerGraphRegisterEvent(graph, (HANDLE)(intptr_t)fd, 2, kinds, &events), E_INVALIDARG);
    EXPECT(PeerGraphRegisterEvent(graph, (HANDLE)(intptr_t)fd, 1, NULL, &events), E_INVALIDARG);
    EXPECT(PeerGraphRegisterEvent(stale, (HANDLE)(intptr_t)fd, 1, kinds, &events), PEER_E_INVALID_GRAPH);
    EXPECT(PeerGraphRegisterEvent(graph, (HANDLE)(intptr_t)fd, 1, kinds, &events), S_OK);
    PEER_GRAPH_EVENT_DATA *event = NULL;
    EXPECT(PeerGraphGetEventData(events, NULL), E_INVALIDARG);
    EXPECT(PeerGraphGetEventData((HPEEREVENT)graph, &event), PEER_E_EVENT_HANDLE_NOT_FOUND);
    EXPECT(PeerGraphGetEventData(events, &event), PEER_S_NO_EVENT_DATA);

    PEER_ADDRESS address;
    memset(&address, 0, sizeof address);
    address.sin6.sin6_family = AF_INET6;
    address.sin6.sin6_port = htons(9);
    address.sin6.sin6_addr[15] = 1;
    EXPECT(PeerGraphOpenDirectConnection(graph, alice, &address, &connection), E_INVALIDARG); /* dwSize 0 */
    address.dwSize = sizeof address;
    EXPECT(PeerGraphOpenDirectConnection(graph, alice, NULL, &connection), E_INVALIDARG);
    EXPECT(PeerGraphOpenDirectConnection(graph, NULL, &address, &connection), E_INVALIDARG);
    EXPECT(PeerGraphOpenDirectConnection(graph, bob, &address, &connection), PEER_E_CONNECT_SELF);
    EXPECT(PeerGraphOpenDirectConnection(stale, alice, &address, &connection), PEER_E_INVALID_GRAPH);
    static const GUID type = {1, 2, 3, {4, 5, 6, 7, 8, 9, 10, 11}};
    EXPECT(PeerGraphSendData(graph, 12345, &type, 2, "hi"), PEER_E_CONNECTION_NOT_FOUND);
    EXPECT(PeerGraphSendData(graph, 12345, NULL, 2, "hi"), E_INVALIDARG);
    EXPECT(PeerGraphCloseDirectConnection(graph, 12345), PEER_E_CONNECTION_NOT_FOUND);

    EXPECT(PeerGraphEnumConnections(graph, 0, &list), E_INVALIDARG);
    EXPECT(PeerGraphEnumConnections(graph, 0x10, &list), E_INVALIDARG);
    EXPECT(PeerGraphEnumConnections(graph, PEER_CONNECTION_DIRECT | PEER_CONNECTION_NEIGHBOR, &list), S_OK);
    ULONG count = 0;
    EXPECT(PeerGraphGetItemCount((HPEERENUM)events, &count), E_INVALIDARG);
    EXPECT(PeerGetItemCount(list, NULL), E_INVALIDARG);
    EXPECT(PeerGraphEndEnumeration(list), S_OK);
    EXPECT(PeerGraphEndEnumeration(list), E_INVALIDARG);

    PEER_NODE_INFO *node = NULL;
    EXPECT(PeerGraphGetNodeInfo(graph, 0, &node), S_OK);
    PeerGraphFreeData(node);
    PeerGraphFreeData(node); /* twice: ignored */
    PeerFreeData(&version);  /* never handed out: ignored */
    PeerGraphFreeData(NULL);
    EXPECT(PeerGraphGetNodeInfo(graph, 42, &node), PEER_E_NODE_NOT_FOUND);

    PEER_GRAPH_PROPERTIES *current = NULL;
    EXPECT(PeerGraphGetProperties(graph, NULL), E_INVALIDARG);
    EXPECT(PeerGraphGetProperties(stale, &current), PEER_E_INVALID_GRAPH);
    EXPECT(PeerGraphGetProperties(graph, &current), PEER_E_GRAPH_NOT_READY); /* opened, not synchronized */
    EXPECT(PeerGraphSetProperties(graph, &properties), PEER_E_GRAPH_NOT_READY);
    EXPECT(PeerGraphSetProperties(graph, NULL), E_INVALIDARG);
    properties.dwSize = 0;
    EXPECT(PeerGraphSetProperties(graph, &properties), E_INVALIDARG);

    EXPECT(PeerGraphUnregisterEvent(events), S_OK);
    EXPECT(PeerGraphUnregisterEvent(events), PEER_E_EVENT_HANDLE_NOT_FOUND);
    close(fd);
    EXPECT(PeerGraphClose(graph), S_OK);
    EXPECT(PeerGraphShutdown(), S_OK);
    EXPECT(PeerGraphShutdown(), PEER_E_NOT_INITIALIZED);
    EXPECT(PeerGraphClose(graph), PEER_E_NOT_INITIALIZED);

    printf("checks %d failed %d\n", checks, failed);
    return failed;
}
