#!/usr/bin/env python3
"""Interpreter audio ([[audio]]): an SRT audio-only sender (ffmpeg, as an
interpreting console's encoder would) and a test tone become AAC audio
renditions beside a one-rung video ladder; the floor sound becomes one too
(audio-0) and the video carries none (hls.js cannot switch away from sound muxed
into fMP4 video). The master playlist lists them in one audio group with the
floor as the default; ffprobe reads them through the master; their segments start at the video's PTS (within one AAC frame) with the
same msn and PDT; blocking reload works on an audio playlist. When the sender
stops its track carries silence (no gap), the video and the floor sound go on,
and /api/health names the track until the sender is back."""
import json
import os
import re
import struct
import subprocess
import tempfile
import time

from ingest_peers import Sender, sender_cmd, udp_port
from prom_format import parse, value
from relay_harness import TECH_TOKEN, Checks, Relay, init_name, media_segments, parse_args, segment_name, tag_value

AAC_FRAME_S = 1024 / 48000
ONE_RUNG = '[{name="360p",width=640,height=360,bitrate_kbps=800,profile="high"}]'


def write_config(source_dir, tmp, srt_port):
    """The shipped config with absolute paths, the floor's name and two [[audio]] tracks."""
    with open(os.path.join(source_dir, "config", "relay.toml"), encoding="utf-8") as f:
        text = f.read()
    text = text.replace('"../', f'"{source_dir}/')
    text = text.replace('floor_audio_name = "Floor"', 'floor_audio_name = "Deutsch (Saal)"', 1)
    text = text.replace('floor_audio_language = ""', 'floor_audio_language = "de"', 1)
    text += f'''
[[audio]]
name = "English (interpretation)"
language = "en"
source = "srt://127.0.0.1:{srt_port}?mode=listener"
bitrate_kbps = 64

[[audio]]
name = "Français (interprétation)"
language = "fr"
source = "test:"
'''
    path = os.path.join(tmp, "relay.toml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def fetch_segment(relay, rendition, msn, tmp):
    """The segment `msn` of a rendition with its init section, as one playable file."""
    text = relay.get(f"/live/{rendition}/index.m3u8").decode()
    init = relay.get(f"/live/{rendition}/{init_name(text)}")
    body = relay.get(f"/live/{rendition}/{segment_name(text, msn)}")
    path = os.path.join(tmp, f"{rendition}-{msn}.mp4")
    with open(path, "wb") as f:
        f.write(init + body)
    return path, len(body), text


def first_pts(path, stream):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", stream, "-show_entries", "packet=pts_time",
                          "-read_intervals", "%+#1", "-of", "csv=p=0", path],
                         capture_output=True, text=True, timeout=30, check=True).stdout.split()
    return float(out[0])


def mean_volume(path, stream="a:0"):
    """ffmpeg volumedetect's mean volume in dB (-91 is digital silence)."""
    err = subprocess.run(["ffmpeg", "-v", "info", "-nostdin", "-i", path, "-map", f"0:{stream}", "-af", "volumedetect",
                          "-f", "null", "-"], capture_output=True, text=True, timeout=30).stderr
    m = re.search(r"mean_volume: (-?[\d.]+|-inf) dB", err)
    return -200.0 if not m or m.group(1) == "-inf" else float(m.group(1))


def pdt_of(text, msn):
    """The PROGRAM-DATE-TIME line of segment msn (its EXT-X-PROGRAM-DATE-TIME)."""
    seq = int(tag_value(text, "#EXT-X-MEDIA-SEQUENCE"))
    current, pdt = seq, None
    for line in text.splitlines():
        if line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            pdt = line.split(":", 1)[1]
        elif line and not line.startswith("#"):
            if current == msn:
                return pdt
            current += 1
    return None


def iso_ms(pdt):
    from datetime import datetime
    return datetime.fromisoformat(pdt.replace("Z", "+00:00")).timestamp() * 1000


def mdat_payload(data):
    """Bytes of media (mdat payloads) in a run of top-level boxes."""
    total, pos = 0, 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"mdat":
            total += size - 8
        pos += size
    return total


def health(relay):
    return json.loads(relay.get("/api/health"))


def track(h, rendition):
    return next(t for t in h["ingest"]["audio_tracks"] if t["rendition"] == rendition)


def main():
    args = parse_args()
    c = Checks()
    tmp = tempfile.mkdtemp(prefix="interpreter-audio-")
    srt_port = udp_port()
    config = write_config(os.path.abspath(args.source_dir), tmp, srt_port)
    overrides = ["ingest.width=640", "ingest.height=360", "encoder.preset=ultrafast", f"encoder.renditions={ONE_RUNG}",
                 "hls.segment_duration_s=1", "hls.part_duration_s=0.2", "hls.live_window=8",
                 "health.input_lost_hold_s=0.5", f'qa.technician_tokens=["{TECH_TOKEN}"]',
                 "health.input_bitrate_min_kbps=0", "health.input_framerate_min=0", "health.realtime_factor_min=0"]
    sender = Sender(sender_cmd(f"srt://127.0.0.1:{srt_port}?pkt_size=1316", video=False), name="interpreter")
    with Relay(args.binary, args.source_dir, overrides, config=config) as relay:
        relay.wait_for_segments("360p", 3)
        relay.wait_for_segments("audio-1", 3)
        relay.wait_for_segments("audio-2", 3)
        relay.wait_for_segments("audio-0", 3)
        relay.wait_for(lambda: track(health(relay), "audio-1")["state"] == "receiving", 30,
                       "the SRT interpreter input receiving")
        relay.wait_for_new_segments("audio-1", 2)

        master = relay.get("/live/master.m3u8").decode()
        media = [l for l in master.splitlines() if l.startswith("#EXT-X-MEDIA:TYPE=AUDIO")]
        c.check(len(media) == 3, f"one EXT-X-MEDIA per track, the floor included ({len(media)})")
        floor = next((l for l in media if 'NAME="Deutsch (Saal)"' in l), "")
        c.check('DEFAULT=YES' in floor and 'LANGUAGE="de"' in floor and 'URI="audio-0/index.m3u8"' in floor,
                f"the floor sound is the default, a rendition of its own: {floor}")
        english = next((l for l in media if 'LANGUAGE="en"' in l), "")
        c.check('NAME="English (interpretation)"' in english and 'DEFAULT=NO' in english and
                'AUTOSELECT=YES' in english and 'URI="audio-1/index.m3u8"' in english,
                f"the interpreter track has a URI: {english}")
        variants = [l for l in master.splitlines() if l.startswith("#EXT-X-STREAM-INF:")]
        c.check(variants and all('AUDIO="aud"' in v and "mp4a.40.2" in v for v in variants),
                f"every variant names the audio group and AAC ({variants})")

        # ffprobe reads the audio renditions through the master playlist.
        probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,codec_name",
                                "-of", "json", f"http://127.0.0.1:{relay.port}/live/master.m3u8"],
                               capture_output=True, text=True, timeout=60)
        streams = json.loads(probe.stdout or "{}").get("streams", [])
        audio_streams = [s for s in streams if s.get("codec_type") == "audio"]
        c.check(len(audio_streams) >= 3 and all(s["codec_name"] == "aac" for s in audio_streams),
                f"ffprobe finds the floor and both interpreter tracks as AAC ({streams}) {probe.stderr[-300:]}")

        # Alignment: the same msn starts at the same PTS and PDT in video and audio.
        video_text = relay.get("/live/360p/index.m3u8").decode()
        msn = media_segments(video_text)[-2][0]
        video_path, _, video_text = fetch_segment(relay, "360p", msn, tmp)
        v_pts = first_pts(video_path, "v:0")
        c.check(subprocess.run(["ffprobe", "-v", "error", "-select_streams", "a", "-show_entries", "stream=index",
                                "-of", "csv=p=0", video_path], capture_output=True, text=True).stdout.strip() == "",
                "the video rendition carries no sound of its own")
        for rendition in ("audio-0", "audio-1", "audio-2"):
            path, _, text = fetch_segment(relay, rendition, msn, tmp)
            a_pts = first_pts(path, "a:0")
            c.check(abs(a_pts - v_pts) <= AAC_FRAME_S,
                    f"{rendition} segment {msn} starts at the video's PTS ({a_pts:.4f} vs {v_pts:.4f} s)")
            v_pdt, a_pdt = pdt_of(video_text, msn), pdt_of(text, msn)
            c.check(v_pdt and a_pdt and abs(iso_ms(v_pdt) - iso_ms(a_pdt)) <= 25,
                    f"{rendition} segment {msn} has the video's PDT ({a_pdt} vs {v_pdt})")
            parts = [l for l in text.splitlines() if l.startswith("#EXT-X-PART:")]
            c.check(len(parts) > 0, f"{rendition} lists parts")
            server_control = [l for l in text.splitlines() if l.startswith("#EXT-X-SERVER-CONTROL:")]
            c.check(server_control == [l for l in video_text.splitlines() if l.startswith("#EXT-X-SERVER-CONTROL:")],
                    f"{rendition} has the video's SERVER-CONTROL ({server_control})")
            target = float(tag_value(text, "#EXT-X-PART-INF").split("=")[1])
            durations = [float(re.search(r"DURATION=([\d.]+)", p).group(1)) for p in parts]
            c.check(max(durations) <= target + 1e-6, f"{rendition} parts fit PART-TARGET {target} ({max(durations)})")
        heard = mean_volume(os.path.join(tmp, f"audio-1-{msn}.mp4"))
        c.check(heard > -40, f"the SRT interpreter's tone is heard ({heard:.1f} dB)")

        # Overhead of the fMP4 boxes beside the AAC frames, over the listed segments.
        text = relay.get("/live/audio-1/index.m3u8").decode()
        segs = media_segments(text)[-5:]
        media_bytes = total_bytes = 0
        seconds = 0.0
        for m, *_ in segs:
            body = relay.get(f"/live/audio-1/{segment_name(text, m)}")
            total_bytes += len(body)
            media_bytes += mdat_payload(body)
        durations = re.findall(r"#EXTINF:([\d.]+)", text)[-5:]
        seconds = sum(float(d) for d in durations)
        overhead = (total_bytes - media_bytes) / seconds
        print(f"audio-1 (64 kbit/s AAC): {total_bytes / seconds:.0f} B/s in segments, {media_bytes / seconds:.0f} B/s "
              f"AAC, {overhead:.0f} B/s boxes ({100 * overhead / (media_bytes / seconds):.1f} % of the AAC)")
        c.check(overhead < 0.05 * 64000 / 8 * 2, f"the boxes cost little ({overhead:.0f} B/s)")

        # Blocking reload on an audio playlist: held until the next segment exists.
        newest = media_segments(relay.get("/live/audio-1/index.m3u8").decode())[-1][0]
        started = time.time()
        blocked = relay.get(f"/live/audio-1/index.m3u8?_HLS_msn={newest + 1}").decode()
        waited = time.time() - started
        c.check(any(m == newest + 1 for m, *_ in media_segments(blocked)),
                f"blocking reload on audio-1 returns segment {newest + 1} (after {waited:.2f} s)")
        c.check("#EXT-X-RENDITION-REPORT:URI=\"../360p/index.m3u8\"" in blocked,
                "the audio playlist reports the video rendition")
        c.check("#EXT-X-RENDITION-REPORT:URI=\"../audio-1/index.m3u8\"" in video_text,
                "the video playlist reports the audio renditions")

        h = relay.wait_for(lambda: (lambda h: h if track(h, "audio-1")["state"] == "receiving" else None)(health(relay)),
                           20, "the interpreter input receiving")
        c.check("alert_interpreter_lost" not in h["codes"], f"no interpreter reason while it sends ({h['codes']})")

        # The interpreter's sender stops: silence on its track, the rest goes on.
        sender.stop()
        h = relay.wait_for(lambda: (lambda h: h if "alert_interpreter_lost" in h["codes"] else None)(health(relay)), 20,
                           "the interpreter_lost reason")
        c.check(any("English (interpretation)" in r for r in h["reasons"]),
                f"the reason names the track ({h['reasons']})")
        c.check(track(h, "audio-1")["state"] == "lost", f"the track is lost ({track(h, 'audio-1')})")
        c.check(h["ingest"]["state"] == "live", f"the video input is still live ({h['ingest']['state']})")
        m = parse(relay.get("/metrics").decode())
        c.check(value(m, "seminar_relay_audio_track_receiving", track="audio-1") == 0, "metrics: audio-1 not receiving")
        c.check(value(m, "seminar_relay_audio_track_receiving", track="audio-2") == 1, "metrics: audio-2 receiving")
        before = media_segments(relay.get("/live/audio-1/index.m3u8").decode())[-1][0]
        relay.wait_for(lambda: media_segments(relay.get("/live/audio-1/index.m3u8").decode())[-1][0] >= before + 3, 15,
                       "audio-1 segments while its input is lost")
        msn = before + 2
        path, _, text = fetch_segment(relay, "audio-1", msn, tmp)
        silent = mean_volume(path)
        c.check(silent < -80, f"the lost track carries silence ({silent:.1f} dB)")
        print(f"volumes: interpreter {heard:.1f} dB while sending, {silent:.1f} dB while lost")
        listed = [m for m, *_ in media_segments(text)]
        c.check(listed == list(range(listed[0], listed[0] + len(listed))), f"no gap in audio-1's segments ({listed})")
        relay.wait_for(lambda: relay.newest_msn("360p") >= msn, 10, f"video segment {msn}")
        floor, _, _ = fetch_segment(relay, "audio-0", msn, tmp)
        c.check(mean_volume(floor) > -40, "the floor sound goes on")
        other, _, _ = fetch_segment(relay, "audio-2", msn, tmp)
        c.check(mean_volume(other) > -40, "the other interpreter track goes on")

        # The sender returns: the track's sound and a clean health come back by themselves.
        sender = Sender(sender_cmd(f"srt://127.0.0.1:{srt_port}?pkt_size=1316", video=False), name="interpreter")
        relay.wait_for(lambda: "alert_interpreter_lost" not in health(relay)["codes"], 30, "interpreter_lost to clear")
        back = media_segments(relay.get("/live/audio-1/index.m3u8").decode())[-1][0]
        relay.wait_for(lambda: media_segments(relay.get("/live/audio-1/index.m3u8").decode())[-1][0] >= back + 2, 15,
                       "audio-1 segments after the return")
        path, _, _ = fetch_segment(relay, "audio-1", back + 2, tmp)
        c.check(mean_volume(path) > -40, "the interpreter is heard again")
        sender.stop()
    c.finish()


if __name__ == "__main__":
    main()
