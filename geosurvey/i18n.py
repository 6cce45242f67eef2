"""All user-facing text of geosurvey (maps, run and demo progress, reports), in English (``en``) and
Japanese (``ja``): the one language table.

``TEXT[lang][key]`` is a plain string; a few contain ``str.format`` fields (named in braces).
Both languages have exactly the same keys (a test checks it). Data values (area names, commodity
codes, party codes) are not translated here: they are shown as the data give them.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal, get_args

from geosurvey.errors import InputError

__all__ = ["LANGUAGES", "TEXT", "Language", "check_lang"]

Language = Literal["en", "ja"]
LANGUAGES: tuple[str, ...] = get_args(Language)

_EN = {
    "title": "Prospectivity map",
    "score": "Prospectivity score",
    "score_hint": "higher is more prospective",
    "nodata": "no data (transparent)",
    "downsampled": "shown {factor}× coarser than the data grid (at most {max_pixels} px a side)",
    "area": "Survey area",
    "faults": "Faults",
    "occurrences": "Known occurrences",
    "survey_areas": "Survey areas (registry)",
    "evidence": "Evidence: {name}",
    "name": "Name",
    "name_en": "Name (English)",
    "name_ja": "Name (Japanese)",
    "commodity": "Commodity",
    "commodities": "Commodities",
    "deposit_type": "Deposit type",
    "kind": "Type",
    "deposit_models": "Deposit models",
    "region": "Region",
    "area_km2": "Area",
    "km2": "km²",
    "status": "Status",
    "status_proposed": "Proposed",
    "status_agreed": "Agreed",
    "status_amended": "Amended (needs re-approval)",
    "status_withdrawn": "Withdrawn",
    "status_closed": "Closed",
    "approvals": "Approvals",
    "party": "Party",
    "date": "Date",
    "approval_valid": "valid",
    "approval_stale": "stale (earlier version)",
    "approval_invalid": "invalid signature",
    "no_approvals": "none yet",
    "pending_parties": "Awaiting approval from",
    "basemap": "Basemap",
    "zoom_in": "Zoom in",
    "zoom_out": "Zoom out",
    "made_with": "Made with geosurvey",
    # -- batch runner (geosurvey.runner.batch, issue 14) --
    "batch_start": "Batch of {jobs} runs ({areas} areas) on {dask}; outputs in {out_root}",
    "batch_dashboard": "Dask dashboard: {link}",
    "batch_progress": "areas",
    "batch_skip": "skipped: outputs complete, inputs and recipe unchanged",
    "batch_run": "running ({why})",
    "batch_done": "done in {s:.1f} s",
    "batch_failed": "failed: {reason}",
    "batch_retry": "transient error ({reason}); attempt {attempt} of {attempts} in {wait:.1f} s",
    "batch_summary": "{ok} succeeded, {skipped} skipped, {failed} failed, {interrupted} not finished",
    "batch_resume": "Re-run the same batch to resume; finished areas are skipped.",
    "batch_col_area": "area",
    "batch_col_recipe": "recipe",
    "batch_col_status": "status",
    "batch_col_time": "time s",
    "batch_col_auc": "ROC AUC",
    "batch_col_outputs": "outputs",
    "batch_status_ok": "ok",
    "batch_status_skipped": "skipped",
    "batch_status_failed": "failed",
    "batch_status_interrupted": "interrupted",
    "batch_why_new": "no earlier run",
    "batch_why_unfinished": "the earlier run did not finish",
    "batch_why_area": "the area changed",
    "batch_why_recipe": "the recipe changed",
    "batch_why_parameters": "the parameters changed",
    "batch_why_inputs": "inputs changed: {names}",
    "batch_why_outputs": "outputs missing or changed: {names}",
    # -- end of batch runner block --
}

_JA = {
    "title": "鉱床有望度マップ",
    "score": "有望度スコア",
    "score_hint": "値が高いほど有望",
    "nodata": "データなし（透明）",
    "downsampled": "データ格子の{factor}倍の粗さで表示（一辺最大{max_pixels}ピクセル）",
    "area": "調査地域",
    "faults": "断層",
    "occurrences": "既知の鉱床・鉱徴地",
    "survey_areas": "調査地域（登録簿）",
    "evidence": "証拠図：{name}",
    "name": "名称",
    "name_en": "名称（英語）",
    "name_ja": "名称（日本語）",
    "commodity": "鉱種",
    "commodities": "対象鉱種",
    "deposit_type": "鉱床タイプ",
    "kind": "種別",
    "deposit_models": "鉱床モデル",
    "region": "国・地域",
    "area_km2": "面積",
    "km2": "km²",
    "status": "状態",
    "status_proposed": "提案中",
    "status_agreed": "合意済み",
    "status_amended": "変更あり（再承認が必要）",
    "status_withdrawn": "取り下げ",
    "status_closed": "終了",
    "approvals": "承認",
    "party": "当事者",
    "date": "日付",
    "approval_valid": "有効",
    "approval_stale": "失効（旧版への承認）",
    "approval_invalid": "署名が無効",
    "no_approvals": "まだなし",
    "pending_parties": "承認待ちの当事者",
    "basemap": "背景地図",
    "zoom_in": "拡大",
    "zoom_out": "縮小",
    "made_with": "geosurvey で作成",
    # -- batch runner (geosurvey.runner.batch, issue 14) --
    "batch_start": "{areas} 地域・{jobs} 件の一括実行（{dask}）、出力先 {out_root}",
    "batch_dashboard": "Dask ダッシュボード: {link}",
    "batch_progress": "地域",
    "batch_skip": "スキップ: 出力は完全で、入力とレシピに変更なし",
    "batch_run": "実行中（{why}）",
    "batch_done": "{s:.1f} 秒で完了",
    "batch_failed": "失敗: {reason}",
    "batch_retry": "一時的なエラー（{reason}）、{wait:.1f} 秒後に再試行（{attempt}/{attempts} 回目）",
    "batch_summary": "成功 {ok} 件、スキップ {skipped} 件、失敗 {failed} 件、未完了 {interrupted} 件",
    "batch_resume": "同じ一括実行をもう一度実行すると再開します（完了した地域はスキップされます）。",
    "batch_col_area": "地域",
    "batch_col_recipe": "レシピ",
    "batch_col_status": "状態",
    "batch_col_time": "時間（秒）",
    "batch_col_auc": "ROC AUC（曲線下面積）",
    "batch_col_outputs": "出力",
    "batch_status_ok": "成功",
    "batch_status_skipped": "スキップ",
    "batch_status_failed": "失敗",
    "batch_status_interrupted": "中断",
    "batch_why_new": "以前の実行なし",
    "batch_why_unfinished": "以前の実行が完了していない",
    "batch_why_area": "調査地域が変更された",
    "batch_why_recipe": "レシピが変更された",
    "batch_why_parameters": "パラメータが変更された",
    "batch_why_inputs": "入力が変更された: {names}",
    "batch_why_outputs": "出力が欠けているか変更された: {names}",
    # -- end of batch runner block --
}

TEXT: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {"en": MappingProxyType(_EN), "ja": MappingProxyType(_JA)}
)
"""UI strings per language: ``TEXT["ja"]["score"] == "有望度スコア"``."""


def check_lang(lang: object) -> Language:
    """Return ``lang`` if it is a supported language code, else raise :class:`InputError`."""
    if lang not in LANGUAGES:
        choices = ", ".join(repr(code) for code in LANGUAGES)
        raise InputError(f"unknown map language lang={lang!r}; choose one of {choices}")
    return lang  # type: ignore[return-value]
