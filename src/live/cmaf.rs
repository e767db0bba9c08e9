//! Opus in fragmented MP4 (CMAF), for the HLS variant that browsers with Media Source
//! Extensions play (and Safari 17 / iOS 17.1 natively): one init segment (`ftyp` +
//! `moov` with an `Opus` sample entry and its `dOps` box), then media segments of
//! `styp` + `moof` + `mdat`, each holding whole 20 ms Opus packets.
//!
//! The boxes come from the `mp4-atom` crate; this module only chooses their values.
//! The layout follows "Encapsulation of Opus in ISO Base Media File Format" (opus-codec.org)
//! and ISO/IEC 23000-19 (CMAF): one track, timescale 48 kHz, every sample a sync sample.

use bytes::Bytes;
use mp4_atom::{
    Audio, Dinf, Dops, Dref, DrefEntry, Encode, FixedPoint, FourCC, Ftyp, Hdlr, Mdat, Mdhd, Mdia,
    Mfhd, Minf, Moof, Moov, Mvex, Mvhd, Opus, Smhd, Stbl, Stco, Stsc, Stsd, Stsz, Stts, Styp, Tfdt,
    Tfhd, Tkhd, Traf, Trak, Trex, Trun, TrunEntry, TrunSamples, Url,
};

use super::format::{FRAME, RATE};

const TRACK: u32 = 1;
/// ISO/IEC 14496-12 sample flags: "depends on no other sample" (2 << 24); not a
/// non-sync sample. Every Opus packet can start decoding (after the pre-roll the decoder
/// handles by itself).
const SYNC_SAMPLE: u32 = 0x0200_0000;

#[derive(Debug, thiserror::Error)]
#[error("cannot write the fMP4 boxes: {0}")]
pub struct CmafError(#[from] mp4_atom::Error);

fn brands() -> (FourCC, Vec<FourCC>) {
    (
        FourCC::new(b"iso6"),
        vec![
            FourCC::new(b"iso6"),
            FourCC::new(b"cmfc"),
            FourCC::new(b"mp41"),
            FourCC::new(b"Opus"),
        ],
    )
}

/// The init segment (`#EXT-X-MAP`): the track's description, no samples.
pub fn init_segment(channels: u8, pre_skip: u16) -> Result<Bytes, CmafError> {
    let (major_brand, compatible_brands) = brands();
    let ftyp = Ftyp {
        major_brand,
        minor_version: 0,
        compatible_brands,
    };
    let opus = Opus {
        audio: Audio {
            data_reference_index: 1,
            channel_count: u16::from(channels),
            sample_size: 16,
            sample_rate: FixedPoint::new(RATE as u16, 0),
        },
        dops: Dops {
            output_channel_count: channels,
            pre_skip,
            input_sample_rate: RATE,
            output_gain: 0,
            // Family 0: mono or stereo, no mapping table.
            channel_mapping: None,
        },
        btrt: None,
    };
    let moov = Moov {
        mvhd: Mvhd {
            timescale: RATE,
            next_track_id: TRACK + 1,
            ..Default::default()
        },
        mvex: Some(Mvex {
            mehd: None,
            trex: vec![Trex {
                track_id: TRACK,
                default_sample_description_index: 1,
                default_sample_duration: FRAME as u32,
                ..Default::default()
            }],
        }),
        trak: vec![Trak {
            tkhd: Tkhd {
                track_id: TRACK,
                enabled: true,
                in_movie: true,
                volume: 1.into(),
                ..Default::default()
            },
            mdia: Mdia {
                mdhd: Mdhd {
                    timescale: RATE,
                    language: "und".into(),
                    ..Default::default()
                },
                hdlr: Hdlr {
                    handler: FourCC::new(b"soun"),
                    name: "SoundHandler".into(),
                },
                minf: Minf {
                    smhd: Some(Smhd::default()),
                    dinf: Dinf {
                        dref: Dref {
                            // The samples are in this file (the url box's "self" flag).
                            entries: vec![DrefEntry::Url(Url::default())],
                        },
                    },
                    stbl: Stbl {
                        stsd: Stsd {
                            codecs: vec![opus.into()],
                        },
                        // Fragmented: the sample tables stay empty, `moof`s carry them.
                        stts: Stts::default(),
                        stsc: Stsc::default(),
                        stsz: Stsz::default(),
                        stco: Some(Stco::default()),
                        ..Default::default()
                    },
                    ..Default::default()
                },
            },
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut out = Vec::new();
    ftyp.encode(&mut out)?;
    moov.encode(&mut out)?;
    Ok(Bytes::from(out))
}

/// One media segment: `seq` numbers the fragment, `start` is the first packet's time in
/// 48 kHz samples since the stream began, `packets` are whole 20 ms Opus packets.
pub fn media_segment(seq: u32, start: u64, packets: &[Bytes]) -> Result<Bytes, CmafError> {
    let (major_brand, compatible_brands) = brands();
    let styp = Styp {
        major_brand,
        minor_version: 0,
        compatible_brands,
    };
    let samples = TrunSamples::Explicit(
        packets
            .iter()
            .map(|p| TrunEntry {
                size: Some(p.len() as u32),
                ..Default::default()
            })
            .collect(),
    );
    let moof = |data_offset: i32| Moof {
        mfhd: Mfhd {
            sequence_number: seq,
        },
        traf: vec![Traf {
            tfhd: Tfhd {
                track_id: TRACK,
                default_sample_duration: Some(FRAME as u32),
                default_sample_flags: Some(SYNC_SAMPLE),
                // Offsets count from this moof, as CMAF requires.
                default_base_is_moof: true,
                ..Default::default()
            },
            tfdt: Some(Tfdt {
                base_media_decode_time: start,
            }),
            trun: vec![Trun {
                data_offset: Some(data_offset),
                samples: samples.clone(),
            }],
            ..Default::default()
        }],
    };
    // The data offset points past the moof and the mdat header; its own size does not
    // depend on its value, so measure once with a placeholder.
    let mut probe = Vec::new();
    moof(0).encode(&mut probe)?;
    let offset = i32::try_from(probe.len() + 8).unwrap_or(i32::MAX);
    let mut out = Vec::new();
    styp.encode(&mut out)?;
    moof(offset).encode(&mut out)?;
    Mdat {
        data: packets.iter().flat_map(|p| p.iter().copied()).collect(),
    }
    .encode(&mut out)?;
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use mp4_atom::Decode;

    use super::*;

    #[test]
    fn init_segment_describes_opus() {
        let init = init_segment(2, 312).unwrap();
        let mut buf = std::io::Cursor::new(init.as_ref());
        let ftyp = Ftyp::decode(&mut buf).unwrap();
        assert!(ftyp.compatible_brands.contains(&FourCC::new(b"cmfc")));
        let moov = Moov::decode(&mut buf).unwrap();
        let codec = &moov.trak[0].mdia.minf.stbl.stsd.codecs[0];
        let mp4_atom::Codec::Opus(opus) = codec else {
            panic!("not Opus: {codec:?}")
        };
        assert_eq!(opus.dops.pre_skip, 312);
        assert_eq!(opus.dops.output_channel_count, 2);
        assert_eq!(moov.trak[0].mdia.mdhd.timescale, 48_000);
    }

    #[test]
    fn media_segment_points_at_its_samples() {
        let packets = vec![Bytes::from_static(b"abc"), Bytes::from_static(b"defg")];
        let seg = media_segment(7, 96_000, &packets).unwrap();
        let mut buf = std::io::Cursor::new(seg.as_ref());
        Styp::decode(&mut buf).unwrap();
        let moof_at = buf.position() as usize;
        let moof = Moof::decode(&mut buf).unwrap();
        let traf = &moof.traf[0];
        assert_eq!(moof.mfhd.sequence_number, 7);
        assert_eq!(traf.tfdt.as_ref().unwrap().base_media_decode_time, 96_000);
        let off = traf.trun[0].data_offset.unwrap() as usize;
        assert_eq!(&seg[moof_at + off..], b"abcdefg");
    }
}
