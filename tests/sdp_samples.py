"""Hand-written SDP in the styles pexbot meets: a Chrome offer (what Pexip's web client POSTs,
before the SDK's munging: no candidates, many codecs, three m-lines with an inactive slides line)
and an Infinity-style answer to a three-line offer (candidates only in the first section, ICE-TCP
and host-name candidates, b=AS/b=TIAS, a bare a=ssrc line, an fmtp with no rtpmap)."""

from __future__ import annotations

FP = ":".join(["AB"] * 32)


def _join(lines: str) -> str:
    return "\r\n".join(line.strip() for line in lines.strip().splitlines()) + "\r\n"


CHROME_OFFER = _join(f"""
v=0
o=- 4611731400430051336 2 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0 1 2
a=extmap-allow-mixed
a=msid-semantic: WMS 5b2ef2a7
m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126
c=IN IP4 0.0.0.0
a=rtcp:9 IN IP4 0.0.0.0
a=ice-ufrag:Yq2c
a=ice-pwd:5mL0qR7tVwX9yZ1aB3cD5eF7
a=ice-options:trickle
a=fingerprint:sha-256 {FP}
a=setup:actpass
a=mid:0
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time
a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid
a=sendrecv
a=msid:5b2ef2a7 a1d0e0c6
a=rtcp-mux
a=rtpmap:111 opus/48000/2
a=rtcp-fb:111 transport-cc
a=fmtp:111 minptime=10;useinbandfec=1
a=rtpmap:63 red/48000/2
a=fmtp:63 111/111
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:13 CN/8000
a=rtpmap:110 telephone-event/48000
a=rtpmap:126 telephone-event/8000
a=ssrc:1001 cname:ChRoMeCnAmE
a=ssrc:1001 msid:5b2ef2a7 a1d0e0c6
m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 104 105 106 107 108 109 98 99 45 46 112 113 116 117 118
c=IN IP4 0.0.0.0
a=rtcp:9 IN IP4 0.0.0.0
a=ice-ufrag:Yq2c
a=ice-pwd:5mL0qR7tVwX9yZ1aB3cD5eF7
a=ice-options:trickle
a=fingerprint:sha-256 {FP}
a=setup:actpass
a=mid:1
a=extmap:14 urn:ietf:params:rtp-hdrext:toffset
a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time
a=extmap:13 urn:3gpp:video-orientation
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid
a=sendrecv
a=msid:5b2ef2a7 v2c1b0a9
a=rtcp-mux
a=rtcp-rsize
a=rtpmap:96 VP8/90000
a=rtcp-fb:96 goog-remb
a=rtcp-fb:96 transport-cc
a=rtcp-fb:96 ccm fir
a=rtcp-fb:96 nack
a=rtcp-fb:96 nack pli
a=rtpmap:97 rtx/90000
a=fmtp:97 apt=96
a=rtpmap:102 H264/90000
a=rtcp-fb:102 goog-remb
a=rtcp-fb:102 nack
a=rtcp-fb:102 nack pli
a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f
a=rtpmap:103 rtx/90000
a=fmtp:103 apt=102
a=rtpmap:104 H264/90000
a=rtcp-fb:104 nack pli
a=fmtp:104 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f
a=rtpmap:105 rtx/90000
a=fmtp:105 apt=104
a=rtpmap:106 H264/90000
a=rtcp-fb:106 goog-remb
a=rtcp-fb:106 nack
a=rtcp-fb:106 nack pli
a=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f
a=rtpmap:107 rtx/90000
a=fmtp:107 apt=106
a=rtpmap:108 H264/90000
a=rtcp-fb:108 nack pli
a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f
a=rtpmap:109 rtx/90000
a=fmtp:109 apt=108
a=rtpmap:98 VP9/90000
a=fmtp:98 profile-id=0
a=rtpmap:99 rtx/90000
a=fmtp:99 apt=98
a=rtpmap:45 AV1/90000
a=fmtp:45 level-idx=5;profile=0;tier=0
a=rtpmap:46 rtx/90000
a=fmtp:46 apt=45
a=rtpmap:112 H264/90000
a=fmtp:112 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=64001f
a=rtpmap:113 rtx/90000
a=fmtp:113 apt=112
a=rtpmap:116 red/90000
a=rtpmap:117 rtx/90000
a=fmtp:117 apt=116
a=rtpmap:118 ulpfec/90000
a=ssrc-group:FID 2001 2002
a=ssrc:2001 cname:ChRoMeCnAmE
a=ssrc:2001 msid:5b2ef2a7 v2c1b0a9
a=ssrc:2002 cname:ChRoMeCnAmE
a=ssrc:2002 msid:5b2ef2a7 v2c1b0a9
m=video 9 UDP/TLS/RTP/SAVPF 96 97 106 107
c=IN IP4 0.0.0.0
a=rtcp:9 IN IP4 0.0.0.0
a=ice-ufrag:Yq2c
a=ice-pwd:5mL0qR7tVwX9yZ1aB3cD5eF7
a=ice-options:trickle
a=fingerprint:sha-256 {FP}
a=setup:actpass
a=mid:2
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid
a=inactive
a=msid:- s3d4e5f6
a=rtcp-mux
a=rtcp-rsize
a=rtpmap:96 VP8/90000
a=rtcp-fb:96 nack pli
a=rtpmap:97 rtx/90000
a=fmtp:97 apt=96
a=rtpmap:106 H264/90000
a=rtcp-fb:106 nack pli
a=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f
a=rtpmap:107 rtx/90000
a=fmtp:107 apt=106
a=ssrc-group:FID 3001 3002
a=ssrc:3001 cname:ChRoMeCnAmE
a=ssrc:3002 cname:ChRoMeCnAmE
""")


def infinity_answer(*, slides_rejected: bool = False) -> str:
    """An Infinity-style answer to an offer of mids 0 (audio), 1 (video), 2 (slides video)."""
    slides = (
        """
m=video 0 UDP/TLS/RTP/SAVPF 0
a=mid:2
"""
        if slides_rejected
        else f"""
m=video 9 UDP/TLS/RTP/SAVPF 97 101
c=IN IP4 0.0.0.0
b=AS:1024
b=TIAS:1024000
a=mid:2
a=content:slides
a=inactive
a=rtcp-mux
a=ice-ufrag:NoDe
a=ice-pwd:n0d3p4ssw0rdn0d3p4ssw0rd
a=fingerprint:sha-256 {FP}
a=setup:active
a=rtpmap:97 VP8/90000
a=rtcp-fb:97 nack pli
a=rtpmap:101 H264/90000
a=fmtp:101 packetization-mode=1;profile-level-id=42e01f
a=ssrc:6001 cname:infinity
"""
    )
    return _join(
        f"""
v=0
o=- 1700000000 1700000000 IN IP4 10.0.0.10
s=-
t=0 0
a=group:BUNDLE 0 1{"" if slides_rejected else " 2"}
m=audio 40000 UDP/TLS/RTP/SAVPF 96 0
c=IN IP4 10.0.0.10
b=AS:128
b=TIAS:128000
a=mid:0
a=content:main
a=sendrecv
a=rtcp-mux
a=ice-ufrag:NoDe
a=ice-pwd:n0d3p4ssw0rdn0d3p4ssw0rd
a=fingerprint:sha-256 {FP}
a=setup:active
a=rtpmap:96 opus/48000/2
a=fmtp:96 useinbandfec=1
a=rtpmap:0 PCMU/8000
a=fmtp:120 0-15
a=ssrc:4001 cname:infinity
a=ssrc:4002
a=candidate:1 1 udp 2130706431 10.0.0.10 40000 typ host
a=candidate:2 1 tcp 1518280447 10.0.0.10 443 typ host tcptype passive
a=candidate:3 1 udp 1694498815 203.0.113.7 40000 typ srflx raddr 10.0.0.10 rport 40000
a=candidate:4 1 udp 2130706431 node.example.com 40000 typ host
a=candidate:5 1 udp 2130706431 3f6a7c1e-5c0a-4d9e-9a43-0f1f2c3d4e5f.local 40001 typ host
a=end-of-candidates
m=video 40000 UDP/TLS/RTP/SAVPF 97 98 101
c=IN IP4 10.0.0.10
b=AS:2048
b=TIAS:2048000
a=mid:1
a=content:main
a=sendrecv
a=rtcp-mux
a=ice-ufrag:NoDe
a=ice-pwd:n0d3p4ssw0rdn0d3p4ssw0rd
a=fingerprint:sha-256 {FP}
a=setup:active
a=rtpmap:97 VP8/90000
a=rtcp-fb:97 nack
a=rtcp-fb:97 nack pli
a=rtcp-fb:97 goog-remb
a=rtpmap:98 rtx/90000
a=fmtp:98 apt=97
a=rtpmap:101 H264/90000
a=rtcp-fb:101 nack pli
a=fmtp:101 packetization-mode=1;profile-level-id=42e01f
a=ssrc:5001 cname:infinity
{slides}
"""
    )
