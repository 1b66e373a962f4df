"""Small built-in name lists for the synthetic population.

Every entry is ``(english, arabic)``. Omani names are Arabic first with their
usual transliteration; expatriate names are Latin first with an Arabic
transliteration, as a resident card prints them. The lists are tuples so that
an index drawn from an entity's seed always picks the same name.
"""

from __future__ import annotations

OMANI_MALE = (
    ("Ahmed", "أحمد"), ("Mohammed", "محمد"), ("Salim", "سالم"), ("Said", "سعيد"),
    ("Khalid", "خالد"), ("Sultan", "سلطان"), ("Hamad", "حمد"), ("Nasser", "ناصر"),
    ("Abdullah", "عبدالله"), ("Ali", "علي"), ("Hilal", "هلال"), ("Saif", "سيف"),
    ("Yousuf", "يوسف"), ("Talal", "طلال"), ("Badr", "بدر"), ("Majid", "ماجد"),
    ("Faisal", "فيصل"), ("Hamood", "حمود"), ("Rashid", "راشد"), ("Mubarak", "مبارك"),
    ("Issa", "عيسى"), ("Zahir", "ظاهر"), ("Azzan", "عزان"), ("Qais", "قيس"),
)

OMANI_FEMALE = (
    ("Fatma", "فاطمة"), ("Aisha", "عائشة"), ("Maryam", "مريم"), ("Zainab", "زينب"),
    ("Shamsa", "شمسة"), ("Muna", "منى"), ("Huda", "هدى"), ("Salma", "سلمى"),
    ("Noor", "نور"), ("Asma", "أسماء"), ("Badriya", "بدرية"), ("Thuraya", "ثريا"),
    ("Khadija", "خديجة"), ("Raya", "رية"), ("Sheikha", "شيخة"), ("Amal", "أمل"),
)

OMANI_FAMILY = (
    ("Al Harthi", "الحارثي"), ("Al Balushi", "البلوشي"), ("Al Busaidi", "البوسعيدي"),
    ("Al Hinai", "الهنائي"), ("Al Maamari", "المعمري"), ("Al Rawahi", "الرواحي"),
    ("Al Kindi", "الكندي"), ("Al Siyabi", "السيابي"), ("Al Shukaili", "الشكيلي"),
    ("Al Amri", "العامري"), ("Al Lawati", "اللواتي"), ("Al Riyami", "الريامي"),
    ("Al Saadi", "السعدي"), ("Al Mahrouqi", "المحروقي"), ("Al Habsi", "الحبسي"),
    ("Al Jabri", "الجابري"), ("Al Mukhaini", "المخيني"), ("Al Farsi", "الفارسي"),
    ("Al Kalbani", "الكلباني"), ("Al Wahaibi", "الوهيبي"),
)

# nationality -> (male given names, female given names, family names)
EXPAT = {
    "IND": (
        (("Rajesh", "راجيش"), ("Suresh", "سوريش"), ("Anil", "أنيل"), ("Vijay", "فيجاي"),
         ("Manoj", "مانوج"), ("Arun", "أرون"), ("Ramesh", "راميش"), ("Sunil", "سونيل")),
        (("Priya", "بريا"), ("Lakshmi", "لاكشمي"), ("Anitha", "أنيثا"), ("Deepa", "ديبا")),
        (("Kumar", "كومار"), ("Nair", "ناير"), ("Pillai", "بيلاي"), ("Menon", "مينون"),
         ("Reddy", "ريدي"), ("Singh", "سينغ"), ("Thomas", "توماس"), ("Das", "داس")),
    ),
    "BGD": (
        (("Mohammad", "محمد"), ("Abdul", "عبدول"), ("Rahim", "رحيم"), ("Karim", "كريم"),
         ("Jamal", "جمال"), ("Habib", "حبيب"), ("Shahid", "شاهد"), ("Rafiq", "رفيق")),
        (("Nasrin", "نسرين"), ("Shirin", "شيرين"), ("Rokeya", "رقية"), ("Amena", "آمنة")),
        (("Hossain", "حسين"), ("Rahman", "رحمن"), ("Islam", "إسلام"), ("Uddin", "الدين"),
         ("Miah", "مياه"), ("Sarker", "سركار"), ("Alam", "علام"), ("Khan", "خان")),
    ),
    "PAK": (
        (("Imran", "عمران"), ("Asif", "آصف"), ("Tariq", "طارق"), ("Bilal", "بلال"),
         ("Naveed", "نويد"), ("Zahid", "زاهد"), ("Usman", "عثمان"), ("Waqar", "وقار")),
        (("Ayesha", "عائشة"), ("Sadia", "سعدية"), ("Rubina", "روبينة"), ("Nadia", "نادية")),
        (("Khan", "خان"), ("Afridi", "أفريدي"), ("Butt", "بت"), ("Qureshi", "قريشي"),
         ("Malik", "مالك"), ("Chaudhry", "شودري"), ("Baloch", "بلوش"), ("Shah", "شاه")),
    ),
    "PHL": (
        (("Jose", "خوسيه"), ("Mark", "مارك"), ("John", "جون"), ("Rodel", "روديل"),
         ("Jericho", "جيريكو"), ("Ramon", "رامون")),
        (("Maria", "ماريا"), ("Rowena", "روينا"), ("Jocelyn", "جوسلين"), ("Analyn", "أنالين"),
         ("Marites", "ماريتس"), ("Cristina", "كريستينا")),
        (("Santos", "سانتوس"), ("Reyes", "رييس"), ("Cruz", "كروز"), ("Bautista", "باوتيستا"),
         ("Garcia", "غارسيا"), ("Mendoza", "مندوزا"), ("Dela Cruz", "ديلا كروز")),
    ),
    "NPL": (
        (("Ram", "رام"), ("Bikash", "بيكاش"), ("Sagar", "ساغار"), ("Prakash", "براكاش"),
         ("Dil", "ديل"), ("Hari", "هاري")),
        (("Sita", "سيتا"), ("Gita", "غيتا"), ("Sunita", "سونيتا"), ("Kamala", "كامالا")),
        (("Thapa", "ثابا"), ("Gurung", "غورونغ"), ("Tamang", "تامانغ"), ("Rai", "راي"),
         ("Magar", "ماغار"), ("Shrestha", "شريستا")),
    ),
    "LKA": (
        (("Nuwan", "نوان"), ("Chaminda", "شاميندا"), ("Ruwan", "روان"), ("Kasun", "كاسون")),
        (("Dilani", "ديلاني"), ("Nirosha", "نيروشا"), ("Chathurika", "شاثوريكا"), ("Kumari", "كوماري")),
        (("Perera", "بيريرا"), ("Fernando", "فرناندو"), ("Silva", "سيلفا"), ("Jayasuriya", "جاياسوريا"),
         ("Bandara", "باندارا")),
    ),
    "EGY": (
        (("Mahmoud", "محمود"), ("Mostafa", "مصطفى"), ("Hany", "هاني"), ("Sherif", "شريف"),
         ("Tamer", "تامر"), ("Walid", "وليد")),
        (("Mona", "منى"), ("Rania", "رانيا"), ("Heba", "هبة"), ("Dina", "دينا")),
        (("Abdelrahman", "عبدالرحمن"), ("El Sayed", "السيد"), ("Hassan", "حسن"), ("Ibrahim", "إبراهيم"),
         ("Mansour", "منصور"), ("Farouk", "فاروق")),
    ),
    "IDN": (
        (("Budi", "بودي"), ("Agus", "أغوس"), ("Joko", "جوكو"), ("Eko", "إيكو")),
        (("Siti", "سيتي"), ("Dewi", "ديوي"), ("Sri", "سري"), ("Wati", "واتي"), ("Ani", "آني")),
        (("Santoso", "سانتوسو"), ("Wijaya", "ويجايا"), ("Susanto", "سوسانتو"), ("Rahayu", "راهايو"),
         ("Hidayat", "هدايت")),
    ),
}

# share of expatriate workers per nationality (per mille); sums to 1000
NATIONALITY_WEIGHTS = (
    ("IND", 330), ("BGD", 300), ("PAK", 160), ("PHL", 60),
    ("NPL", 40), ("LKA", 30), ("EGY", 50), ("IDN", 30),
)

# passport number shape per nationality: (prefix letters, digits)
PASSPORT_SHAPE = {
    "IND": ("ABCJKLMNPRSTUVWZ", 7), "BGD": ("AB", 8), "PAK": ("AB", 7),
    "PHL": ("P", 8), "NPL": ("PA", 7), "LKA": ("N", 7), "EGY": ("A", 8), "IDN": ("BC", 7),
}

# establishment names: (english, arabic) word parts
COMPANY_WORDS = (
    ("Al Noor", "النور"), ("Al Fajr", "الفجر"), ("Bright Star", "النجم الساطع"),
    ("Al Waha", "الواحة"), ("Sahil", "الساحل"), ("Al Jabal", "الجبل"), ("Al Khaleej", "الخليج"),
    ("Ras Al Hadd", "رأس الحد"), ("Al Bustan", "البستان"), ("Nizwa", "نزوى"),
    ("Al Amal", "الأمل"), ("Al Majd", "المجد"), ("Dhofar", "ظفار"), ("Al Rimal", "الرمال"),
    ("Green Oasis", "الواحة الخضراء"), ("Al Sharq", "الشرق"), ("Golden Falcon", "الصقر الذهبي"),
    ("Al Muna", "المنى"), ("Sur", "صور"), ("Al Batinah", "الباطنة"),
)

COMPANY_ACTIVITIES = (
    ("Trading", "للتجارة"), ("Contracting", "للمقاولات"), ("Transport", "للنقل"),
    ("Cleaning Services", "لخدمات التنظيف"), ("Restaurant", "للمطاعم"),
    ("Building Materials", "لمواد البناء"), ("Engineering", "للهندسة"),
    ("Fisheries", "للأسماك"), ("Agriculture", "للزراعة"), ("Car Repair", "لإصلاح السيارات"),
    ("Tailoring", "للخياطة"), ("Hospitality", "للضيافة"),
)

# (english suffix, arabic prefix): the legal form
COMPANY_FORMS = (
    ("LLC", "شركة", "ش.م.م"), ("Est.", "مؤسسة", ""), ("SAOC", "شركة", "ش.م.ع.م"),
    ("& Partners", "شركة", "وشركاه"),
)

# ISCO-08 based occupation codes with English titles
PROFESSIONS = (
    ("7112", "Mason"), ("7115", "Carpenter"), ("7126", "Plumber"), ("7411", "Electrician"),
    ("8322", "Light Vehicle Driver"), ("8332", "Heavy Truck Driver"), ("9112", "Cleaner"),
    ("5120", "Cook"), ("5131", "Waiter"), ("7212", "Welder"), ("7231", "Motor Mechanic"),
    ("9313", "Construction Labourer"), ("9211", "Farm Labourer"), ("5153", "Building Caretaker"),
    ("7531", "Tailor"), ("5223", "Shop Salesperson"), ("3112", "Civil Engineering Technician"),
    ("2142", "Civil Engineer"), ("4311", "Accounting Clerk"), ("9621", "Messenger"),
)

# banks in Oman: (SWIFT BIC, short name used in SIF files, 3-digit IBAN bank code)
BANKS = (
    ("BMUSOMRX", "BMCT", "018"), ("NBOMOMRX", "NBO", "002"), ("BDOFOMRX", "BDOF", "013"),
    ("BSHROMRU", "SIB", "027"), ("BBMEOMRX", "HSBC", "019"), ("OMABOMRU", "OAB", "017"),
    ("AUBOOMRU", "AHLI", "028"), ("BNZWOMRX", "BNZW", "029"), ("IZZBOMRU", "ALIZZ", "030"),
)
# share of accounts per bank (per mille), same order as BANKS
BANK_WEIGHTS = (380, 160, 110, 110, 60, 70, 40, 40, 30)

# ISO 3166-2:OM governorates and their share of establishments (per mille)
GOVERNORATES = (
    ("OM-MA", 350), ("OM-BS", 150), ("OM-BJ", 100), ("OM-DA", 100), ("OM-ZU", 80),
    ("OM-SS", 60), ("OM-SJ", 60), ("OM-ZA", 40), ("OM-BU", 30), ("OM-WU", 20), ("OM-MU", 10),
)

# chamber of commerce membership grades
CHAMBER_GRADES = ("Excellent", "First", "Second", "Third", "Fourth")

# primary courts hearing labour cases: (code, governorate, english, arabic)
COURTS = (
    ("muscat-primary", "OM-MA", "Muscat Primary Court", "المحكمة الابتدائية بمسقط"),
    ("sohar-primary", "OM-BS", "Sohar Primary Court", "المحكمة الابتدائية بصحار"),
    ("rustaq-primary", "OM-BJ", "Rustaq Primary Court", "المحكمة الابتدائية بالرستاق"),
    ("nizwa-primary", "OM-DA", "Nizwa Primary Court", "المحكمة الابتدائية بنزوى"),
    ("salalah-primary", "OM-ZU", "Salalah Primary Court", "المحكمة الابتدائية بصلالة"),
    ("ibra-primary", "OM-SS", "Ibra Primary Court", "المحكمة الابتدائية بإبراء"),
    ("sur-primary", "OM-SJ", "Sur Primary Court", "المحكمة الابتدائية بصور"),
    ("ibri-primary", "OM-ZA", "Ibri Primary Court", "المحكمة الابتدائية بعبري"),
    ("buraimi-primary", "OM-BU", "Buraimi Primary Court", "المحكمة الابتدائية بالبريمي"),
    ("haima-primary", "OM-WU", "Haima Primary Court", "المحكمة الابتدائية بهيماء"),
    ("khasab-primary", "OM-MU", "Khasab Primary Court", "المحكمة الابتدائية بخصب"),
)
