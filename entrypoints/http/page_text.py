"""The connect page's words in Spanish, Portuguese and English, and how a request picks one."""

from __future__ import annotations

LANGUAGES = ("es", "pt", "en")
DEFAULT = "es"

TEXT: dict[str, dict[str, str]] = {
    "es": {
        "title": "Conectar WhatsApp", "qr_alt": "Código QR para escanear con WhatsApp",
        "expires_in": "El código vence en", "seconds": "s",
        "refresh": "El código se renueva solo.", "state": "Estado",
        "pairing": "Código de vinculación", "retry": "Reintentar",
        "waiting": "Generando el código…", "awaiting_qr": "Esperando el escaneo",
        "connecting": "Conectando…", "connected": "Conectado",
        "connected_detail": "WhatsApp quedó conectado. Ya puede cerrar esta página.",
        "disconnected": "Desconectado", "failed": "Falló",
        "timeout": "El tiempo para escanear terminó.",
        "unavailable": "El servicio de WhatsApp no está disponible ahora.",
        "qr_limit": "Se alcanzó el límite de códigos QR. Vuelva a intentarlo.",
        "step1": "Abra WhatsApp en su teléfono.",
        "step2": "Toque Menú o Configuración y elija Dispositivos vinculados.",
        "step3": "Toque Vincular un dispositivo y apunte la cámara a este código.",
        "forbidden_title": "Enlace no válido",
        "forbidden": "Este enlace no es válido o ya venció. Pida uno nuevo a su clínica.",
    },
    "pt": {
        "title": "Conectar o WhatsApp", "qr_alt": "Código QR para escanear com o WhatsApp",
        "expires_in": "O código expira em", "seconds": "s",
        "refresh": "O código se renova sozinho.", "state": "Estado",
        "pairing": "Código de pareamento", "retry": "Tentar de novo",
        "waiting": "Gerando o código…", "awaiting_qr": "Aguardando a leitura",
        "connecting": "Conectando…", "connected": "Conectado",
        "connected_detail": "O WhatsApp está conectado. Você já pode fechar esta página.",
        "disconnected": "Desconectado", "failed": "Falhou",
        "timeout": "O tempo para escanear acabou.",
        "unavailable": "O serviço do WhatsApp não está disponível agora.",
        "qr_limit": "O limite de códigos QR foi atingido. Tente de novo.",
        "step1": "Abra o WhatsApp no seu celular.",
        "step2": "Toque em Mais opções ou Configurações e escolha Dispositivos conectados.",
        "step3": "Toque em Conectar um dispositivo e aponte a câmera para este código.",
        "forbidden_title": "Link inválido",
        "forbidden": "Este link não é válido ou expirou. Peça um novo à sua clínica.",
    },
    "en": {
        "title": "Connect WhatsApp", "qr_alt": "QR code to scan with WhatsApp",
        "expires_in": "The code expires in", "seconds": "s",
        "refresh": "The code refreshes by itself.", "state": "State",
        "pairing": "Pairing code", "retry": "Try again",
        "waiting": "Getting the code…", "awaiting_qr": "Waiting for the scan",
        "connecting": "Connecting…", "connected": "Connected",
        "connected_detail": "WhatsApp is connected. You can close this page.",
        "disconnected": "Disconnected", "failed": "Failed",
        "timeout": "The time to scan ran out.",
        "unavailable": "The WhatsApp service is not available right now.",
        "qr_limit": "The QR code limit was reached. Please try again.",
        "step1": "Open WhatsApp on your phone.",
        "step2": "Tap Menu or Settings and choose Linked devices.",
        "step3": "Tap Link a device and point the camera at this code.",
        "forbidden_title": "Invalid link",
        "forbidden": "This link is not valid or has expired. Ask your clinic for a new one.",
    },
}


def pick_language(query_lang: str | None, accept_language: str) -> str:
    """``?lang=`` when it names one we speak, else the best of Accept-Language, else Spanish."""
    if query_lang in LANGUAGES:
        return query_lang
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else DEFAULT
