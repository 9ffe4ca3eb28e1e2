/*
 * fuzz_rpc.c - RPC frames a client reads from agora-metad (rpc.c): the
 * frame header, then the reply it announces. The input is the frame as
 * it comes off the socket: a header, a reply, maybe pushed pages (the
 * page target fuzzes those).
 */
#include "fuzz.h"
#include "rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ag_rpc_reply reply;
	uint32_t type, npages;
	uint64_t id;

	if (size < AG_RPC_HDR ||
	    ag_rpc_reply_header(data, &type, &id, &npages))
		return 0;
	/* the reply is read whole before the pages, whatever follows */
	if (!ag_rpc_reply_decode(data + AG_RPC_HDR,
				 size - AG_RPC_HDR < AG_RPC_REPLY_LEN ?
				 size - AG_RPC_HDR : AG_RPC_REPLY_LEN, &reply))
		fuzz_touch(&reply, sizeof(reply));
	return 0;
}
