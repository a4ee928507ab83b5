"""Short texts for service cases, calls, tickets and support emails, in French and English."""

from __future__ import annotations

COMPLAINT_SUBJECTS: dict[str, tuple[str, ...]] = {
    "fr": (
        "Colis reçu endommagé",
        "Commande incomplète",
        "Remboursement toujours pas reçu",
        "Produit défectueux",
        "Livraison en retard de deux semaines",
        "Mauvais article livré",
        "Accueil désagréable en boutique",
    ),
    "en": (
        "Parcel arrived damaged",
        "Order incomplete",
        "Still waiting for my refund",
        "Faulty product",
        "Delivery two weeks late",
        "Wrong item delivered",
    ),
}

QUESTION_SUBJECTS: dict[str, tuple[str, ...]] = {
    "fr": (
        "Question sur la taille",
        "Disponibilité en boutique",
        "Modifier mon adresse de livraison",
        "Suivi de ma commande",
        "Carte de fidélité",
        "Demande de facture",
        "Échange d'un cadeau",
    ),
    "en": (
        "Question about sizing",
        "Is this available in store?",
        "Change my delivery address",
        "Where is my order?",
        "Loyalty card",
        "Invoice request",
        "Exchanging a gift",
    ),
}

CUSTOMER_BODIES: dict[str, tuple[str, ...]] = {
    "fr": (
        "Bonjour,\n\nJe vous écris au sujet de ma commande {order}. {subject}. "
        "Pourriez-vous me dire ce qu'il est possible de faire ?\n\nMerci d'avance,\n{name}",
        "Bonjour,\n\n{subject} : je suis assez déçu(e). J'attends une solution rapide.\n\nCordialement,\n{name}",
        "Bonsoir,\n\nPetite question : {subject_lower}. Merci pour votre retour.\n\n{name}",
    ),
    "en": (
        "Hello,\n\nI am writing about my order {order}. {subject}. Could you let me know what can be done?\n\n"
        "Thanks,\n{name}",
        "Hi,\n\n{subject}. I am quite disappointed and would like this sorted quickly.\n\nBest regards,\n{name}",
    ),
}

SUPPORT_BODIES: dict[str, tuple[str, ...]] = {
    "fr": (
        "Bonjour {given},\n\nMerci pour votre message. Nous sommes désolés pour ce désagrément et revenons "
        "vers vous sous 48 heures.\n\nBien cordialement,\nLe service client",
        "Bonjour {given},\n\nVotre demande a bien été prise en compte. Un avoir vient d'être émis.\n\n"
        "Le service client",
    ),
    "en": (
        "Hello {given},\n\nThank you for your message. We are sorry about this and will get back to you "
        "within 48 hours.\n\nKind regards,\nCustomer service",
    ),
}

FOLLOW_UP_BODIES: dict[str, tuple[str, ...]] = {
    "fr": ("Merci pour votre réponse rapide.\n\n{name}", "Toujours rien reçu de mon côté...\n\n{name}"),
    "en": ("Thanks for the quick reply.\n\n{name}", "Still nothing on my side...\n\n{name}"),
}

CALL_SUBJECTS: tuple[str, ...] = (
    "Appel entrant - suivi commande",
    "Appel sortant - rappel client",
    "Appel entrant - réclamation",
    "Appel - information produit",
    "Call - order follow-up",
)
